/* notify.c: the Type=notify protocol of the systemd units — READY=1 and STOPPING=1 via libsystemd. */
#include "notify.h"

#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

/* Sends one state to $NOTIFY_SOCKET. Returns 1 sent, 0 (no $NOTIFY_SOCKET),
 * or -1 on error (logged). */
static int notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0) {
        sys_warn("cannot notify the service manager", "state=%s err=\"%s\"", state, strerror(-rc));
        return -1;
    }
    return rc > 0;
}

/* Sends READY=1. Returns 1, 0 (no $NOTIFY_SOCKET) or -1 (logged). */
int sys_notify_ready(void)
{
    return notify("READY=1\nSTATUS=listening");
}

/* Sends STOPPING=1. Returns 1, 0 (no $NOTIFY_SOCKET) or -1 (logged). */
int sys_notify_stopping(void)
{
    return notify("STOPPING=1\nSTATUS=stopping");
}
