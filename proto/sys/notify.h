/* notify.h: readiness and stopping notices to the service manager
 * (sd_notify over $NOTIFY_SOCKET; nothing when the variable is unset). */
#ifndef SYS_NOTIFY_H
#define SYS_NOTIFY_H

/* Tells the service manager the daemon serves: call once it really listens.
 * Returns 1 if a notice was sent, 0 without $NOTIFY_SOCKET, -1 on error. */
int sys_notify_ready(void);

/* Tells the service manager the daemon is shutting down. Returns as
 * sys_notify_ready. */
int sys_notify_stopping(void);

#endif
