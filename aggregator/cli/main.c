/* main.c: the `actiongap` command (SPEC 5) — configuration, arguments and
 * dispatch through the verb table, from which the usage text is built. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conffile.h"

/* Options of the verbs: name, whether a value follows, and where it goes. */
typedef struct {
    const char *name;
    int has_value;
    size_t off;
} cli_opt;

static const cli_opt cli_opts[] = {
    {"json", 0, offsetof(cli_args, json)},
    {"short", 0, offsetof(cli_args, short_link)},
    {"list", 0, offsetof(cli_args, list)},
    {"advocates", 1, offsetof(cli_args, advocates)},
    {"qr", 1, offsetof(cli_args, qr)},
    {"disable", 1, offsetof(cli_args, disable)},
    {"expires", 1, offsetof(cli_args, expires)},
    {"day", 1, offsetof(cli_args, day)},
    {"send", 0, offsetof(cli_args, send)},
    {"balance", 0, offsetof(cli_args, balance)},
    {"follow", 0, offsetof(cli_args, follow)},
    {"no-carry", 0, offsetof(cli_args, no_carry)},
    {"leaderboard", 0, offsetof(cli_args, leaderboard)},
    {"revoke", 0, offsetof(cli_args, revoke)},
    {"since", 1, offsetof(cli_args, since)},
    {"not-in", 1, offsetof(cli_args, not_in)},
    {"format", 1, offsetof(cli_args, format)},
    {"limit", 1, offsetof(cli_args, limit)},
    {"count", 1, offsetof(cli_args, count)},
    {"to", 1, offsetof(cli_args, to)},
    {"ref", 1, offsetof(cli_args, ref)},
    {"subject", 1, offsetof(cli_args, subject)},
    {"event", 1, offsetof(cli_args, event)},
    {"channel", 1, offsetof(cli_args, channel)},
};

/* The verbs: name, options allowed (space-separated, padded), positional
 * count, the function, and the usage lines. */
static const struct {
    const char *verb;
    const char *opts;
    int npos;
    cli_verb_fn run;
    const char *usage, *help;
} cli_verbs[] = {
    {"campaigns", " json ", 0, cli_verb_campaigns, "campaigns [--json]",
     "campaigns by last activity"},
    {"stats", " json ", 1, cli_verb_stats, "stats C [--json]",
     "reach, actions, rates, the action gap,\n"
     "scroll depth, follow-up latency, pending"},
    {"top", " json limit ", 1, cli_verb_top, "top C [--json] [--limit N]",
     "advocate leaderboard (actions, reach; N=20, 0 all)"},
    {"pending", " json ", 1, cli_verb_pending, "pending C [--json]",
     "signups awaiting follow-up, oldest first"},
    {"followup", " json ", 2, cli_verb_followup, "followup C SUBJECT [--json]",
     "record a follow-up of SUBJECT (via=api)"},
    {"alerts", " json follow count ", 0, cli_verb_alerts, "alerts [--json] [--count N] [--follow]",
     "last N alerts (20), then wait for new ones"},
    {"repair", " json ", 1, cli_verb_repair, "repair C [--json]",
     "re-queue the entries a poisoned key sent to C's\n"
     "dead-letter stream (after fixing the key)"},
    {"audience", " json ref since not-in format count ", 2, cli_verb_audience,
     "audience C SEGMENT [--ref A] [--since T] [--not-in C2] [--format csv|json|lines] [--count]",
     "the people of a segment: gap (reached, did not act),\n"
     "clicked-not-acted, opened-not-clicked, acted, waiting\n"
     "(signed up, not followed up), reached; T: seconds\n"
     "since 1970, or 7d / 24h; --count: how many"},
    {"forget", " json ", 1, cli_verb_forget, "forget SUBJECT [--json]",
     "remove a subject from every campaign (audiences,\n"
     "pending, alerts, counted hits): a data-subject request"},
    {"share", " json leaderboard revoke ", 1, cli_verb_share, "share C [--leaderboard] [--revoke] [--json]",
     "print a dashboard link that opens C (or only its\n"
     "leaderboard); --revoke deletes C's links"},
    {"link", " json to ref subject event channel no-carry short expires ", 1, cli_verb_link,
     "link C [--to URL] [--ref A] [--subject S] [--event E] [--channel CH] [--no-carry] [--short [--expires DAYS]] [--json]",
     "print a signed pixel URL (or /r link with --to; --no-carry:\n"
     "no attribution token on the landing URL; --short: a short\n"
     "link /s/CODE, the same code for the same link each time)"},
    {"advocate", " json ", -2, cli_verb_advocate, "advocate [C] ID [--json]",
     "what advocate ID achieved in C (or every campaign):\n"
     "clicks on their links, people reached, acted, rate,\n"
     "signups brought and followed up, unverified credit"},
    {"digest", " json day send ", 1, cli_verb_digest, "digest C [--day YYYY-MM-DD] [--send] [--json]",
     "each advocate's daily text: the day's clicks and\n"
     "actions (yesterday, UTC), totals, their links;\n"
     "--send: mailed through smtp_url from alert_email_from"},
    {"links", " json to channel advocates qr list disable format expires ", 1, cli_verb_links,
     "links C --to URL --advocates FILE [--qr DIR] [--format table|csv|json] | --list | --disable CODE",
     "a short link for each advocate of FILE (CSV: id,name[,e-mail];\n"
     "again: the same codes), QR codes as DIR/ID.png and .svg;\n"
     "--list C's links; --disable CODE: it answers 410"},
    {"cluster", " json balance ", 0, cli_verb_cluster, "cluster [--balance] [--json]",
     "each hit stream partition's slot, node, length and\n"
     "lease; --balance moves partitions' slots so the\n"
     "masters hold an even share (Redis Cluster)"},
};
#define NVERBS (sizeof cli_verbs / sizeof cli_verbs[0])

/* Prints the usage text, built from the verb table, on out; never fails. */
static void usage(FILE *out)
{
    fputs("usage: actiongap [config flags] VERB [ARGS] [--json]\n\nverbs:\n", out);
    for (size_t v = 0; v < NVERBS; v++) {
        const char *h = cli_verbs[v].help;
        if (strlen(cli_verbs[v].usage) > 34)   /* help on the next line */
            fprintf(out, "  %s\n  %-34s ", cli_verbs[v].usage, "");
        else
            fprintf(out, "  %-34s ", cli_verbs[v].usage);
        while (*h) {
            size_t n = strcspn(h, "\n");
            fprintf(out, "%.*s\n", (int)n, h);
            h += n;
            if (*h == '\n' && *++h)
                fprintf(out, "  %-34s ", "");
        }
    }
    fputs("  version                            the version (also --version)\n"
          "  help                               this text\n"
          "\n"
          "configuration (file, flag or AG_* environment, as the daemons):\n"
          "  --config FILE  --redis URL  --prefix P  --partitions N  --base-url URL\n"
          "  --signing-key K  --followup-sla-s S\n"
          "\n"
          "exit status: 0 success, 1 runtime error (e.g. Redis unreachable), 2 bad usage\n",
          out);
}

/* Writes every verb of the table as man(7) for actiongap(1); never fails. */
static void man_verbs(proto_buf *b)
{
    for (size_t v = 0; v < NVERBS; v++)
        cli_man_verb(b, cli_verbs[v].usage, cli_verbs[v].help);
}

/* Reports a usage error (one line, then the usage); returns CLI_USAGE. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("actiongap: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    usage(stderr);
    return CLI_USAGE;
}

/* Reads a count option (0..1000000, dflt when absent); returns 0, or
 * CLI_USAGE (printed). */
static int count_opt(const char *name, const char *text, long dflt, long *out)
{
    int64_t v;

    *out = dflt;
    if (!text)
        return 0;
    if (cli_parse_i64(text, &v) < 0 || v < 0 || v > 1000000)
        return usage_error("--%s wants a whole number 0..1000000, not \"%s\"", name, text);
    *out = (long)v;
    return 0;
}

/* Splits the non-configuration arguments into verb, options and
 * positionals; returns the verb's index, -1 for help, or -CLI_USAGE - 1
 * (printed). */
static int parse_args(cli_args *a, int n, char **args)
{
    int vi = -1, opts_done = 0;

    memset(a, 0, sizeof *a);
    for (int i = 0; i < n; i++)
        if (strcmp(args[i], "--help") == 0 || strcmp(args[i], "-h") == 0)
            return -1;
    if (n == 0)
        return -usage_error("no verb given") - 1;
    a->verb = args[0];
    if (strcmp(a->verb, "help") == 0)
        return -1;
    for (size_t v = 0; v < NVERBS; v++)
        if (strcmp(cli_verbs[v].verb, a->verb) == 0)
            vi = (int)v;
    if (vi < 0)
        return -usage_error("unknown verb \"%s\"", a->verb) - 1;
    for (int i = 1; i < n; i++) {
        const char *s = args[i];
        if (opts_done || s[0] != '-' || !s[1]) {
            if (a->npos == CLI_MAX_ARGS)
                return -usage_error("%s: too many arguments", a->verb) - 1;
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            opts_done = 1;
            continue;
        }
        if (strcmp(a->verb, "audience") == 0 && strcmp(s, "--count") == 0) {
            a->count_only = 1;      /* a flag here, a number for alerts */
            continue;
        }
        const char *name = s + (s[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        char pad[40];
        for (size_t k = 0; k < sizeof cli_opts / sizeof cli_opts[0]; k++)
            if (strlen(cli_opts[k].name) == nl && strncmp(cli_opts[k].name, name, nl) == 0)
                o = &cli_opts[k];
        snprintf(pad, sizeof pad, " %s ", o ? o->name : "");
        if (!o || s[1] != '-' || !strstr(cli_verbs[vi].opts, pad))
            return -usage_error("%s: unknown option \"%s\"", a->verb, s) - 1;
        if (!o->has_value) {
            if (eq)
                return -usage_error("%s: --%s takes no value", a->verb, o->name) - 1;
            *(int *)((char *)a + o->off) = 1;
        } else if (eq) {
            *(const char **)((char *)a + o->off) = eq + 1;
        } else if (i + 1 < n) {
            *(const char **)((char *)a + o->off) = args[++i];
        } else {
            return -usage_error("%s: --%s needs a value", a->verb, o->name) - 1;
        }
    }
    int want = cli_verbs[vi].npos;   /* -N: 1 to N */
    if (want >= 0 ? a->npos != want : a->npos < 1 || a->npos > -want)
        return -usage_error("%s: expected %s%d argument%s, got %d", a->verb, want < 0 ? "1 to " : "",
                            want < 0 ? -want : want, want == 1 ? "" : "s", a->npos) - 1;
    if (count_opt("limit", a->limit, 20, &a->nlimit) || count_opt("count", a->count, 20, &a->ncount))
        return -CLI_USAGE - 1;
    return vi;
}

/* Runs the command; returns its exit status (SPEC 5). */
int main(int argc, char **argv)
{
    static cli_ctx x;
    cli_args a;
    int rest[CLI_MAX_ARGS * 2], nrest = 0, rc;
    char *args[CLI_MAX_ARGS * 2], err[512];

    if (argc == 3 && strcmp(argv[1], "--help-man") == 0)   /* the build's man pages */
        return cli_man(argv[2], man_verbs, stdout);
    if (sys_conf_version(stdout, "actiongap", argc, argv) ||
        (argc == 2 && strcmp(argv[1], "version") == 0 && sys_conf_version(stdout, "actiongap", 2,
                                                                          (char *[]){argv[0], "--version", NULL})))
        return CLI_OK;
    if (sys_conf_load(&x.conf, argc, argv, rest, CLI_MAX_ARGS * 2, &nrest, err, sizeof err) < 0) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "help") == 0) {
                usage(stdout);
                return CLI_OK;
            }
        fprintf(stderr, "actiongap: %s\n", err);
        return CLI_USAGE;
    }
    for (int i = 0; i < nrest; i++)
        args[i] = argv[rest[i]];
    int vi = parse_args(&a, nrest, args);
    if (vi == -1) {
        usage(stdout);
        return CLI_OK;
    }
    if (vi < 0)
        return -vi - 1;
    x.json = a.json;
    rc = cli_verbs[vi].run(&x, &a);
    sys_redis_free(x.r);
    fflush(stdout);
    return rc;
}
