/* test_proto_conf_man.c: one key, documented everywhere — every key of the
 * configuration table and every hook field in the generated
 * actiongap.conf(5), in docs/SPEC.md section 8 and in
 * deploy/actiongap.conf.example; the man pages render without warnings. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "guard.h"

/* Reads a file whole (NUL-terminated; free it); fails the test if it cannot. */
static char *slurp(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Returns whether c may be part of a key's name. */
static int word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Returns whether word stands in text with no name character on either side. */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        if ((p == text || !word_char(p[-1])) && !word_char(p[n]))
            return 1;
    return 0;
}

/* Returns whether a line of text, past an optional "#" and blanks, starts
 * with key and then blanks and "=". */
static int has_setting(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line;
        while (*p == ' ' || *p == '#')
            p++;
        if (strncmp(p, key, n) != 0)
            continue;
        p += n;
        while (*p == ' ')
            p++;
        if (*p == '=')
            return 1;
    }
    return 0;
}

/* Returns section 8 of SPEC.md (from "## 8." to the next "## "), in place. */
static char *spec_section8(char *spec)
{
    char *s = strstr(spec, "\n## 8. ");
    ck_assert_msg(s != NULL, "docs/SPEC.md has no section 8");
    char *e = strstr(s + 1, "\n## ");
    if (e)
        *e = 0;
    return s;
}

/* Every key of the table: in actiongap.conf(5), in SPEC 8 as `key`, in the example. */
START_TEST(keys_documented_everywhere)
{
    char *man = slurp(getenv("AG_MAN_DIR"), "actiongap.conf.5");
    char *spec = slurp(getenv("AG_SOURCE_ROOT"), "docs/SPEC.md");
    char *example = slurp(getenv("AG_SOURCE_ROOT"), "deploy/actiongap.conf.example");
    char *s8 = spec_section8(spec);
    proto_conf_doc d;
    int missing = 0;
    size_t i = 0;
    for (; proto_conf_doc_at(i, &d) == 0; i++) {
        char quoted[80];
        snprintf(quoted, sizeof quoted, "`%s`", d.key);
        if (!has_word(man, d.key) && ++missing)
            fprintf(stderr, "%s: not in actiongap.conf(5)\n", d.key);
        if (!strstr(s8, quoted) && ++missing)
            fprintf(stderr, "%s: not in docs/SPEC.md section 8\n", d.key);
        if (!has_setting(example, d.key) && ++missing)
            fprintf(stderr, "%s: not in deploy/actiongap.conf.example\n", d.key);
    }
    ck_assert_int_gt((int)i, 40);
    ck_assert_msg(missing == 0, "%d places miss a key (listed above)", missing);
    free(man);
    free(spec);
    free(example);
}
END_TEST

/* Every hook field: in actiongap.conf(5), in SPEC 8 as `.field`, in the
 * example as hook.NAME.field; and its example value is accepted. */
START_TEST(hook_fields_documented_everywhere)
{
    char *man = slurp(getenv("AG_MAN_DIR"), "actiongap.conf.5");
    char *spec = slurp(getenv("AG_SOURCE_ROOT"), "docs/SPEC.md");
    char *example = slurp(getenv("AG_SOURCE_ROOT"), "deploy/actiongap.conf.example");
    char *s8 = spec_section8(spec);
    int missing = 0, n = 0;
    for (const proto_hook_field_doc *f = proto_hook_fields; f->field; f++, n++) {
        char word[64], dotted[80], spelled[96], key[256], err[256];
        size_t w = strcspn(f->field, ".");
        snprintf(word, sizeof word, ".%.*s", (int)w, f->field);         /* ".map" of "map.KIND" */
        snprintf(dotted, sizeof dotted, "`%s", word);
        snprintf(spelled, sizeof spelled, "`hook.<name>%s", word);
        int in_man = 0, in_example = 0;
        for (const char *p = strstr(man, word); p && !in_man; p = strstr(p + 1, word))
            in_man = !word_char(p[w + 1]);
        for (const char *p = strstr(example, "hook."); p && !in_example; p = strstr(p + 1, "hook.")) {
            const char *q = p + 5 + strcspn(p + 5, ". \n");
            in_example = strncmp(q, word, w + 1) == 0 && !word_char(q[w + 1]);
        }
        if (!in_man && ++missing)
            fprintf(stderr, "hook field %s: not in actiongap.conf(5)\n", f->field);
        if (!strstr(s8, dotted) && !strstr(s8, spelled) && ++missing)
            fprintf(stderr, "hook field %s: not in docs/SPEC.md section 8 (as `%s`)\n", f->field, word);
        if (!in_example && ++missing)
            fprintf(stderr, "hook field %s: not in deploy/actiongap.conf.example\n", f->field);

        proto_hooks hs = {0};
        const char *eq = strstr(f->example, " = ");
        ck_assert_ptr_nonnull(eq);
        snprintf(key, sizeof key, "crm.%.*s", (int)(eq - f->example), f->example);
        ck_assert_msg(proto_hook_conf_set(&hs, key, eq + 3, err, sizeof err) == 0,
                      "hook.%s = %s refused: %s", key, eq + 3, err);
    }
    ck_assert_int_ge(n, 11);
    ck_assert_msg(missing == 0, "%d places miss a hook field (listed above)", missing);
    free(man);
    free(spec);
    free(example);
}
END_TEST

/* Escapes what man(7) would take as requests, escapes or options. */
START_TEST(man_text_escapes)
{
    static const struct { const char *in, *out; } cases[] = {
        {".dot first", "\\&.dot first"},
        {"'quote first", "\\&'quote first"},
        {"a\\b", "a\\eb"},
        {"say \"hi\"", "say \\(dqhi\\(dq"},
        {"use --flag (-x) read-only", "use \\-\\-flag (\\-x) read-only"},
        {"[--to URL] | -n", "[\\-\\-to URL] | \\-n"},
        {"plain", "plain"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_buf b;
        proto_buf_init(&b);
        proto_man_text(&b, cases[i].in, strlen(cases[i].in));
        ck_assert_str_eq(b.data ? b.data : "", cases[i].out);
        proto_buf_free(&b);
    }
}
END_TEST

/* Every generated page renders with man(1) and groff without a warning
 * (the check lintian makes); a missing man is a failure. */
START_TEST(pages_render)
{
    static const char *const pages[] = {"actiongap.1", "actiongap.conf.5", "actiongap-collector.8",
                                        "actiongap-aggregator.8", "actiongap-dashboard.8"};
    const char *dir = getenv("AG_MAN_DIR");
    ck_assert_ptr_nonnull(dir);
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char cmd[2048], out[4096];
        snprintf(cmd, sizeof cmd,
                 "LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "
                 "'%s/%s' 2>&1 >/dev/null; echo \"exit=$?\"", dir, pages[i]);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        ck_assert_msg(strcmp(out, "exit=0\n") == 0, "man -l %s: %s", pages[i], out);
        snprintf(cmd, sizeof cmd, "MANWIDTH=80 man -l '%s/%s' 2>/dev/null | grep -c .", dir, pages[i]);
        p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        ck_assert_msg(atoi(out) >= 20, "man -l %s rendered %s lines", pages[i], out);
    }
}
END_TEST

/* Builds the suite. */
static Suite *suite(void)
{
    Suite *s = suite_create("conf_man");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, keys_documented_everywhere);
    tcase_add_test(tc, hook_fields_documented_everywhere);
    tcase_add_test(tc, man_text_escapes);
    tcase_add_test(tc, pages_render);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(suite());
}
