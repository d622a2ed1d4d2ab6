/* test_proto_ua.c: unit tests of proto/ua.c — the shared labelled user agents and extra cases. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ua.h"
#include "guard.h"

/* Maps a class name to its enum; returns -1 (the failure) if unknown. */
static int class_of(const char *s)
{
    if (strcmp(s, "human") == 0)
        return PROTO_AGENT_HUMAN;
    if (strcmp(s, "bot") == 0)
        return PROTO_AGENT_BOT;
    if (strcmp(s, "mailproxy") == 0)
        return PROTO_AGENT_MAILPROXY;
    return -1;
}

/* What classifying a labelled file found. */
typedef struct {
    int rows, correct;          /* every row; rows given exactly their label */
    int machines, machines_ok;  /* rows labelled bot or mailproxy; of them classed either */
    int people, people_machine; /* rows labelled human; of them classed bot or mailproxy */
} tally;

/* Classifies every row (class<TAB>hit<TAB>user-agent) of dir/name into t,
 * printing each miss; fails the test on a missing file or a bad row. */
static void classify_file(const char *dir, const char *name, tally *t)
{
    char path[4096];
    memset(t, 0, sizeof *t);
    ck_assert_msg(dir != NULL && *dir, "the data directory of %s is not set", name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);

    char line[8192];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        char *t1 = strchr(line, '\t');
        ck_assert_msg(t1 != NULL, "%s:%d: no tab", path, lineno);
        *t1 = '\0';
        char *hitcol = t1 + 1;
        char *t2 = strchr(hitcol, '\t');
        ck_assert_msg(t2 != NULL, "%s:%d: no second tab", path, lineno);
        *t2 = '\0';
        const char *ua = t2 + 1;
        int want = class_of(line);
        ck_assert_msg(want >= 0, "%s:%d: unknown class %s", path, lineno, line);
        proto_via via;
        if (strcmp(hitcol, "pixel") == 0)
            via = PROTO_VIA_PIXEL;
        else if (strcmp(hitcol, "click") == 0)
            via = PROTO_VIA_CLICK;
        else
            ck_abort_msg("%s:%d: unknown endpoint %s", path, lineno, hitcol);
        proto_agent got = proto_ua_classify(ua, strlen(ua), via);
        t->rows++;
        t->correct += (int)got == want;
        if (want == PROTO_AGENT_HUMAN) {
            t->people++;
            t->people_machine += got != PROTO_AGENT_HUMAN;
        } else {
            t->machines++;
            t->machines_ok += got != PROTO_AGENT_HUMAN;
        }
        if ((int)got != want)
            fprintf(stderr, "ua: %s:%d: %s on %s: want %s, got %s\n", name, lineno, ua, hitcol, line,
                    proto_agent_name(got));
    }
    fclose(f);
    printf("ua: %s: %d rows, %d exactly right; machines %d of %d classed machine; people %d of %d "
           "classed machine\n", name, t->rows, t->correct, t->machines_ok, t->machines, t->people_machine,
           t->people);
    fflush(stdout);
}

/* Classifies every row of the shared labelled file; fails on a wrong class. */
START_TEST(shared_tsv)
{
    tally t;
    classify_file(getenv("AG_SHARED_DATA"), "user-agents.tsv", &t);
    ck_assert_int_gt(t.rows, 0);
    ck_assert_int_eq(t.correct, t.rows);
}
END_TEST

/* Classifies the project's own labelled sample (tests/data/ua/agents.tsv,
 * over 300 crawlers, fetchers, scanners, relays, browsers and mail
 * clients): at least 99 % of machines classed bot or mailproxy, at most
 * 0.5 % of people classed machine (SPEC 2), and in fact every row right. */
START_TEST(project_sample)
{
    tally t;
    classify_file(getenv("AG_TEST_DATA"), "ua/agents.tsv", &t);
    ck_assert_int_ge(t.machines, 200);
    ck_assert_int_ge(t.people, 100);
    ck_assert_msg(t.machines_ok * 100 >= t.machines * 99, "machines classed machine: %d of %d",
                  t.machines_ok, t.machines);
    ck_assert_msg(t.people_machine * 1000 <= t.people * 5, "people classed machine: %d of %d",
                  t.people_machine, t.people);
    ck_assert_int_eq(t.correct, t.rows);
}
END_TEST

/* Classifies a NUL-terminated UA; returns the class. */
static proto_agent cls(const char *ua, proto_via via)
{
    return proto_ua_classify(ua, strlen(ua), via);
}

/* Checks bots are bots on every endpoint; fails on a miss. */
START_TEST(bots_everywhere)
{
    static const char *bots[] = {
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "TelegramBot (like TwitterBot)",
        "WhatsApp/2.23.20.0 A",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Microsoft Office Existence Discovery",
        "Mozilla/5.0 (compatible; Proofpoint/2.0)",
        "Mimecast URL Protect",
        "Barracuda Sentinel (EE)",
        "Symantec MessageLabs Web Security",
        "curl/8.4.0",
        "Wget/1.21.3",
        "python-requests/2.31.0",
        "Python-urllib/3.11",
        "Go-http-client/2.0",
        "okhttp/4.12.0",
        "Java/17.0.2",
        "libwww-perl/6.72",
        "axios/1.6.2",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "SomeCrawler/1.0",
        "my-spider",
        "ACME BOT",
        "GPTBot/1.0",
    };
    for (size_t i = 0; i < sizeof bots / sizeof bots[0]; i++) {
        ck_assert_msg(cls(bots[i], PROTO_VIA_PIXEL) == PROTO_AGENT_BOT, "pixel: %s", bots[i]);
        ck_assert_msg(cls(bots[i], PROTO_VIA_CLICK) == PROTO_AGENT_BOT, "click: %s", bots[i]);
        ck_assert_msg(cls(bots[i], PROTO_VIA_BEACON) == PROTO_AGENT_BOT, "beacon: %s", bots[i]);
    }
}
END_TEST

/* Checks people are human on pixel and click; fails on a false bot. */
START_TEST(humans_everywhere)
{
    static const char *humans[] = {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0",
        "Outlook-iOS/709.2189947.prod.iphone (3.24.1)",
        "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    };
    for (size_t i = 0; i < sizeof humans / sizeof humans[0]; i++) {
        ck_assert_msg(cls(humans[i], PROTO_VIA_PIXEL) == PROTO_AGENT_HUMAN, "pixel: %s", humans[i]);
        ck_assert_msg(cls(humans[i], PROTO_VIA_CLICK) == PROTO_AGENT_HUMAN, "click: %s", humans[i]);
    }
}
END_TEST

/* Checks relays are mailproxy on the pixel and human elsewhere; fails otherwise. */
START_TEST(mail_proxies)
{
    static const char *relays[] = {
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        "Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) ",
        "mozilla/5.0 (macintosh; intel mac os x 10_15_7) applewebkit/605.1.15 (khtml, like gecko)",
        "Mozilla/5.0 (compatible; YandexImageResizer/2.0; +http://yandex.com/bots)",
    };
    for (size_t i = 0; i < sizeof relays / sizeof relays[0]; i++) {
        ck_assert_msg(cls(relays[i], PROTO_VIA_PIXEL) == PROTO_AGENT_MAILPROXY, "pixel: %s", relays[i]);
        /* a relay never follows links, and never runs a beacon */
        ck_assert_msg(cls(relays[i], PROTO_VIA_CLICK) == PROTO_AGENT_HUMAN, "click: %s", relays[i]);
        ck_assert_msg(cls(relays[i], PROTO_VIA_BEACON) == PROTO_AGENT_HUMAN, "beacon: %s", relays[i]);
    }
}
END_TEST

/* Checks the generic rules that catch machines no list names, and the
 * people's software they must leave alone; fails on a wrong class. */
START_TEST(generic_rules)
{
    static const char *const machines[] = {
        "Acme-Linkwalker/1.0",                                         /* no browser prefix */
        "Mozilla/5.0 (compatible; SomeCrawler/0.3)",                   /* borrowed prefix */
        "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0 ops@example.org",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 (+https://example.net/about)",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 admin(at)example.net",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36 ExampleBot",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36 SiteImprove LinkCheck",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36 feed-fetcher/2",
    };
    static const char *const people[] = {
        "Mozilla/5.0 (Linux; Android 14; Botswana Edition) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (X11; U; Linux i686; th-TH@calendar=gregorian) AppleWebKit/534.12 Safari/534.12",
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
        "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
        "Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.16",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
        "[FBAN/FB4A;FBAV/400.0;FBDV/Pixel 7;FBSV/14;]",
        "Instagram 300.0.0.0 Android (34/14; 420dpi; 1080x2400; Google; Pixel 7)",
        "Mozilla/5.0 (Linux; Android 14; K) Chrome/120.0 Mobile Safari/537.36 Telegram-Android/10.0 (Google Pixel 7; Android 14; SDK 34; HIGH)",
        "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)",
    };
    for (size_t i = 0; i < sizeof machines / sizeof machines[0]; i++)
        ck_assert_msg(cls(machines[i], PROTO_VIA_CLICK) == PROTO_AGENT_BOT, "machine: %s", machines[i]);
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++)
        ck_assert_msg(cls(people[i], PROTO_VIA_CLICK) == PROTO_AGENT_HUMAN, "person: %s", people[i]);
}
END_TEST

/* Checks empty UAs, API trust, length and case handling; fails on a wrong class. */
START_TEST(empty_and_api)
{
    ck_assert_int_eq(proto_ua_classify(NULL, 0, PROTO_VIA_PIXEL), PROTO_AGENT_BOT);
    ck_assert_int_eq(proto_ua_classify("", 0, PROTO_VIA_PIXEL), PROTO_AGENT_BOT);
    ck_assert_int_eq(proto_ua_classify("  ", 2, PROTO_VIA_CLICK), PROTO_AGENT_BOT);
    ck_assert_int_eq(proto_ua_classify(NULL, 0, PROTO_VIA_CLICK), PROTO_AGENT_BOT);
    /* API hits are trusted: human whatever the UA */
    ck_assert_int_eq(proto_ua_classify(NULL, 0, PROTO_VIA_API), PROTO_AGENT_HUMAN);
    ck_assert_int_eq(cls("curl/8.4.0", PROTO_VIA_API), PROTO_AGENT_HUMAN);
    /* the length is honoured: "curl/" beyond len is not seen */
    const char *ua = "Mozilla/5.0 curl/8";
    ck_assert_int_eq(proto_ua_classify(ua, 11, PROTO_VIA_PIXEL), PROTO_AGENT_HUMAN);
    ck_assert_int_eq(proto_ua_classify(ua, strlen(ua), PROTO_VIA_PIXEL), PROTO_AGENT_BOT);
    /* case-insensitive */
    ck_assert_int_eq(cls("CURL/8", PROTO_VIA_PIXEL), PROTO_AGENT_BOT);
    ck_assert_int_eq(cls("GOOGLEIMAGEPROXY", PROTO_VIA_PIXEL), PROTO_AGENT_MAILPROXY);
}
END_TEST

/* Builds the ua suite; never fails. */
static Suite *ua_suite(void)
{
    Suite *s = suite_create("proto_ua");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, shared_tsv);
    tcase_add_test(tc, project_sample);
    tcase_add_test(tc, bots_everywhere);
    tcase_add_test(tc, humans_everywhere);
    tcase_add_test(tc, mail_proxies);
    tcase_add_test(tc, generic_rules);
    tcase_add_test(tc, empty_and_api);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(ua_suite());
}
