/* conffile.c: reads the environment and the --config file and applies
 * them, with the flags, through proto/conf.c. */
#include "conffile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#define CONF_FILE_MAX (1 << 20)

/* getenv with a const result, for proto_conf_env. */
static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* Reads path whole into a NUL-terminated buffer. Returns it (free it), or
 * NULL with err naming the file. */
static char *read_file(const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0;
    if (f && (buf = malloc(CONF_FILE_MAX + 1)))
        n = fread(buf, 1, CONF_FILE_MAX + 1, f);
    if (!f || !buf || ferror(f) || n > CONF_FILE_MAX) {
        snprintf(err, cap, "config: config=%s: cannot read: %s", path,
                 !f || ferror(f) ? strerror(errno) : buf ? "larger than 1 MiB" : "out of memory");
        free(buf);
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Loads defaults, environment, file and flags. Returns 0, or -1 with err. */
int sys_conf_load(proto_conf *c, int argc, char **argv, int *rest, int rest_cap, int *nrest,
                  char *err, size_t cap)
{
    const char *file = NULL;
    *nrest = 0;
    proto_conf_defaults(c);
    if (proto_conf_env(c, env_lookup, err, cap) < 0 ||
        proto_conf_file_arg(argc, argv, &file, err, cap) < 0)
        return -1;
    if (file) {
        char *text = read_file(file, err, cap);
        if (!text)
            return -1;
        int rc = proto_conf_text(c, text, file, err, cap);
        free(text);
        if (rc < 0)
            return -1;
    }
    if (proto_conf_args(c, argc, argv, rest, rest_cap, nrest, err, cap) < 0)
        return -1;
    return proto_conf_check(c, err, cap);
}

/* Prints the usage text of every key; never fails. */
void sys_conf_usage(FILE *out)
{
    proto_buf b;
    proto_buf_init(&b);
    proto_conf_usage(&b);
    if (b.data)
        fputs(b.data, out);
    proto_buf_free(&b);
}

int sys_conf_version(FILE *out, const char *prog, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            const char *git = SYS_VERSION;
            if (strcmp(git, PROTO_VERSION) == 0)
                fprintf(out, "%s %s\n", prog, PROTO_VERSION);
            else
                fprintf(out, "%s %s (git %s)\n", prog, PROTO_VERSION, git);
            return 1;
        }
    return 0;
}
