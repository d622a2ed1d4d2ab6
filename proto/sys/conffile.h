/* conffile.h: configuration from the process: its environment, the
 * --config file and its flags (SPEC 8), through proto/conf.c's table. */
#ifndef SYS_CONFFILE_H
#define SYS_CONFFILE_H

#include <stdio.h>

#include "conf.h"

/* Fills c with the defaults, then the environment, then --config FILE, then
 * the --flags of argv (each stronger than the one before). Arguments that
 * are not configuration keys are left for the caller: their indexes are
 * stored in rest[] (at most rest_cap) and their count in *nrest. On any
 * invalid key or value writes one line naming the key and the reason into
 * err (cap bytes) and returns -1; returns 0 on success. */
int sys_conf_load(proto_conf *c, int argc, char **argv, int *rest, int rest_cap, int *nrest,
                  char *err, size_t err_cap);

/* Prints every key, its default and a one-line description (for --help). */
void sys_conf_usage(FILE *out);

/* Prints "<prog> <version>" (meson.build's version, and git describe when
 * built from a checkout) and returns 1 if argv asks for --version, else
 * returns 0. */
int sys_conf_version(FILE *out, const char *prog, int argc, char **argv);

#endif
