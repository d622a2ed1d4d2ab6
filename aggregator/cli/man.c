/* man.c: `actiongap --help-man TEMPLATE`, the build's man page writer — a
 * template of prose filled with the verb table and the configuration keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conf.h"

#define MAN_TEMPLATE_MAX (1 << 20)

/* Writes one verb as a .TP entry: its usage in bold, then its help, one
 * line a line; never fails (see b->oom). */
void cli_man_verb(proto_buf *b, const char *usage, const char *help)
{
    proto_buf_printf(b, ".TP\n\\fB");
    proto_man_text(b, usage, strlen(usage));
    proto_buf_printf(b, "\\fR\n");
    while (*help) {
        size_t n = strcspn(help, "\n");
        proto_man_text(b, help, n);
        proto_buf_printf(b, "\n");
        help += n + (help[n] == '\n');
    }
}

/* Writes the template's line (len bytes) to b: @VERBS@ and @KEYS@ alone on
 * a line become the tables, @VERSION@ the version; never fails. */
static void man_line(proto_buf *b, const char *line, size_t len, void (*verbs)(proto_buf *))
{
    static const char version[] = "@VERSION@";
    if (len == 7 && memcmp(line, "@VERBS@", 7) == 0) {
        verbs(b);
        return;
    }
    if (len == 6 && memcmp(line, "@KEYS@", 6) == 0) {
        proto_conf_man(b);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (len - i >= sizeof version - 1 && memcmp(line + i, version, sizeof version - 1) == 0) {
            proto_buf_printf(b, "%s", PROTO_VERSION);
            i += sizeof version - 2;
        } else {
            proto_buf_printf(b, "%c", line[i]);
        }
    }
    proto_buf_printf(b, "\n");
}

/* Writes the man page of template path to out. Returns CLI_OK, or CLI_ERR
 * (printed) if the template cannot be read or the output written. */
int cli_man(const char *path, void (*verbs)(proto_buf *), FILE *out)
{
    FILE *f = fopen(path, "r");
    char *text = malloc(MAN_TEMPLATE_MAX + 1);
    size_t n = f && text ? fread(text, 1, MAN_TEMPLATE_MAX + 1, f) : 0;
    int bad = !f || !text || ferror(f) || n > MAN_TEMPLATE_MAX;
    if (f)
        fclose(f);
    if (bad) {
        fprintf(stderr, "actiongap: --help-man %s: cannot read the template\n", path);
        free(text);
        return CLI_ERR;
    }
    proto_buf b;
    proto_buf_init(&b);
    for (size_t i = 0; i < n;) {
        size_t len = 0;
        while (i + len < n && text[i + len] != '\n')
            len++;
        man_line(&b, text + i, len, verbs);
        i += len + 1;
    }
    free(text);
    int rc = b.oom || (b.len && fwrite(b.data, 1, b.len, out) != b.len) || fflush(out) ? CLI_ERR : CLI_OK;
    if (rc != CLI_OK)
        fprintf(stderr, "actiongap: --help-man %s: cannot write the page\n", path);
    proto_buf_free(&b);
    return rc;
}
