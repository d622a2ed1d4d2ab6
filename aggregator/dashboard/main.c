/* main.c: actiongap-dashboard — start-up: configuration, then the server (dash.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "conffile.h"
#include "dash.h"
#include "log.h"
#include "notify.h"

#define TOKEN_MIN 16

/* Prints usage. */
static void usage(FILE *out)
{
    fprintf(out, "usage: actiongap-dashboard [--config FILE] [--key value ...]\n"
                 "Serves the campaigns' figures to a browser on dashboard_listen: pages, and the\n"
                 "read-only JSON of /api/v1 (see docs/SPEC.md). Needs dashboard_token.\n\n");
    sys_conf_usage(out);
}

int main(int argc, char **argv)
{
    static proto_conf conf;
    char err[512];
    int rest[16], nrest;
    sys_log_set_prog("dashboard");
    if (sys_conf_version(stdout, "actiongap-dashboard", argc, argv))
        return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (sys_conf_load(&conf, argc, argv, rest, 16, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (nrest) {
        fprintf(stderr, "config: %s: unknown option\n", argv[rest[0]]);
        return 2;
    }
    if (strlen(conf.dashboard_token) < TOKEN_MIN) {
        fprintf(stderr, "config: dashboard_token: %s (at least %d characters, e.g. `openssl rand -hex 16`)\n",
                conf.dashboard_token[0] ? "too short" : "required", TOKEN_MIN);
        return 2;
    }
    sys_log_set_level(conf.log_level);
    signal(SIGPIPE, SIG_IGN);
    agg_dash *d = agg_dash_new(&conf);
    if (!d)
        return 1;
    sys_info("started", "dashboard_listen=%s", conf.dashboard_listen);
    sys_notify_ready();     /* dashboard_listen is bound */
    int rc = agg_dash_run(d);
    sys_notify_stopping();
    agg_dash_free(d);
    return rc;
}
