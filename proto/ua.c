/* ua.c: owns user-agent classification into human, bot and mailproxy (SPEC 2). */
#include "ua.h"

#include <stdint.h>
#include <string.h>

#define UA_SCAN_MAX 1024  /* bytes of a User-Agent examined (real ones are far shorter) */

/* A lower-case token and its length. */
typedef struct {
    const char *s;
    size_t len;
} ua_token;
#define T(lit) {lit, sizeof lit - 1}

/* Mail image proxies: machine opens on the pixel, people on a click.
 * Lower-case substrings; matched case-insensitively. */
static const ua_token mailproxy_tokens[] = {
    T("googleimageproxy"),             /* Gmail */
    T("ggpht.com"),                    /* Gmail */
    T("yahoomailproxy"),               /* Yahoo Mail */
    T("yandeximageresizer"),           /* Yandex Mail */
    T("fastmailua"),                   /* Fastmail */
    T("shortwave image fetcher"),      /* Shortwave */
    T("github-camo"),                  /* GitHub's image proxy (notification e-mails) */
    T("image proxy"), T("imageproxy"),
};

/* Machines everywhere: crawlers, link expanders, security gateways, HTTP
 * libraries, headless browsers, monitors. Lower-case substrings. The generic
 * "bot" is handled apart (see has_bot_word). */
static const ua_token bot_tokens[] = {
    /* crawlers and AI fetchers not caught by T("bot") */
    T("crawler"), T("spider"), T("crawl"), T("slurp"), T("ia_archiver"), T("feedfetcher"),
    T("mediapartners-google"), T("google-inspectiontool"), T("googleother"), T("google-read-aloud"),
    T("google-pagerenderer"), T("duplexweb-google"), T("bingpreview"), T("chatgpt-user"), T("claude-web"), T("anthropic-ai"),
    T("perplexity"), T("cohere-ai"), T("diffbot"),
    /* link expanders and previews */
    T("facebookexternalhit"), T("facebookcatalog"), T("meta-externalagent"), T("whatsapp"),
    T("skypeuripreview"), T("embedly"), T("iframely"), T("quora link preview"), T("vkshare"),
    T("redditbot"), T("slack-imgproxy"), T("slackbot"), T("discordbot"), T("telegrambot"),
    T("linkedinbot"), T("twitterbot"), T("nuzzel"), T("outbrain"), T("snap url preview"),
    T("preview"), T("validator"),
    /* security gateways and link scanners */
    T("existence discovery"), T("protocol discovery"), T("safelinks"), T("safe links"),
    T("proofpoint"), T("ppops-"), T("mimecast"), T("barracuda"), T("symantec"), T("messagelabs"),
    T("forcepoint"), T("ironport"), T("trendmicro"), T("trend micro"), T("fireeye"), T("zscaler"),
    T("sophos"), T("cloudmark"), T("virustotal"), T("urlscan"), T("phishtank"), T("scanner"),
    /* HTTP libraries and tools */
    T("curl/"), T("libcurl"), T("wget"), T("python-requests"), T("python-urllib"), T("python/"),
    T("aiohttp"), T("httpx"), T("urllib"), T("go-http-client"), T("okhttp"), T("java/"), T("jakarta"),
    T("apache-httpclient"), T("libwww"), T("lwp::"), T("axios"), T("node-fetch"), T("undici"), T("got ("),
    T("guzzlehttp"), T("ruby"), T("faraday"), T("http.rb"), T("httpclient"), T("rest-client"),
    T("postmanruntime"), T("insomnia"), T("httpie"), T("powershell"), T("scrapy"),
    T("colly"), T("aria2"), T("reqwest"), T("dart:io"), T("go-resty"),
    /* headless and automated browsers */
    T("headlesschrome"), T("headless"), T("phantomjs"), T("slimerjs"), T("htmlunit"), T("puppeteer"),
    T("playwright"), T("selenium"), T("webdriver"), T("lighthouse"), T("pagespeed"), T("chrome-lighthouse"),
    /* monitors */
    T("pingdom"), T("uptimerobot"), T("statuscake"), T("site24x7"), T("datadog"), T("newrelic"),
    T("nagios"), T("zabbix"), T("monitor"), T("check_http"),
    /* generic machine words: what a program names itself after */
    T("fetch"), T("scan"), T("proxy"), T("checker"), T("check-"), T("scrap"), T("parser"),
    T("feed"), T("rss"), T("archiv"), T("index"), T("detector"), T("analyz"), T("analys"),
    T("exporter"), T("webhook"), T("unfurl"), T("metadata"), T("extractor"), T("downloader"),
    T("probe"), T("audit"), T("uptime"), T("synthetic"), T("sitemap"), T("robot"), T("agent/"),
    T("-agent"), T("http client"), T("http-client"), T("httpclient"), T("library"),
    T("nutch"), T("heritrix"), T("wordpress"), T("cloudflare"), T("amazon cloudfront"),
    T("nessus"), T("sqlmap"), T("zgrab"), T("masscan"), T("nmap"), T("nikto"), T("openvas"),
    T("acunetix"), T("qualys"), T("burp"), T("wpscan"), T("nuclei"), T("censys"), T("shodan"),
    T("watchtowr"), T("abuse."),
    /* site audit and performance services that wear a browser's name */
    T("linkcheck"), T("siteimprove"), T("gtmetrix"), T("inspector"), T("pwabuilder"),
    T("securityheaders"), T("hardenize"), T("thousandeyes"), T("silktide"), T("dareboost"),
    T("ptst/"), T("rigor)"), T("rigor;"), T("testlocally"), T("criticalcss"), T("cookiehub"),
    T("collapsify"), T("marketgoo"), T("linktiger"), T("sqwatcher"), T("scope3"),
    T("datanyze"), T("printfriendly"), T("readable/"), T("newsnow"), T("productfinder"),
    T("google favicon"), T("google web preview"), T("google-"), T("physicalweb"),
};

/* Marks of people's software that does not start with "Mozilla/": older
 * and phone browsers, e-mail clients, in-app web views. */
static const ua_token people_apps[] = {
    T("opera/"), T("opera mini"), T("ucweb"), T("uc browser"), T("ucbrowser"), T("qqbrowser"),
    T("nokia"), T("blackberry"), T("midori"), T("airmail"), T("outlook"), T("microsoft office"),
    T("msoffice"), T("ms-office"), T("thunderbird"), T("dalvik/"), T("windows live mail"),
    T("[fban"), T("pinterest"), T("instagram"), T("snapchat"), T("dolphin"), T("cfnetwork/"),
    T("ibrowser"),
};

/* "compatible;" is how programs borrow a browser's prefix; these real
 * clients use it too. */
static const ua_token compatible_people[] = {
    T("msie"), T("trident"), T("ms-office"), T("msoffice"), T("konqueror"), T("opera mini"),
    T("lotus-notes"),
};

/* A User-Agent lower-cased once, with the set of bytes it holds, so that
 * most tokens are ruled out without a scan. */
typedef struct {
    char s[UA_SCAN_MAX];
    size_t n;
    uint32_t present[8];        /* bytes seen */
    uint32_t pairs[32];         /* hashed adjacent byte pairs seen */
} ua_text;

/* Returns the bucket of an adjacent byte pair in ua_text.pairs. */
static unsigned pair_hash(unsigned char a, unsigned char b)
{
    return ((unsigned)a * 31u + b) & 1023u;
}

/* Fills t from ua (len bytes, at most UA_SCAN_MAX examined); never fails. */
static void ua_text_init(ua_text *t, const char *ua, size_t len)
{
    unsigned char prev = 0;
    memset(t->present, 0, sizeof t->present);
    memset(t->pairs, 0, sizeof t->pairs);
    t->n = len < UA_SCAN_MAX ? len : UA_SCAN_MAX;
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)ua[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        t->s[i] = (char)c;
        t->present[c >> 5] |= 1u << (c & 31);
        if (i) {
            unsigned h = pair_hash(prev, c);
            t->pairs[h >> 5] |= 1u << (h & 31);
        }
        prev = c;
    }
}

/* Returns 1 if byte c occurs in t, else 0. */
static int ua_byte(const ua_text *t, unsigned char c)
{
    return (t->present[c >> 5] >> (c & 31)) & 1;
}

/* Returns 1 if the pair a b may occur in t (hashed: false positives only). */
static int ua_pair(const ua_text *t, unsigned char a, unsigned char b)
{
    unsigned h = pair_hash(a, b);
    return (t->pairs[h >> 5] >> (h & 31)) & 1;
}

/* Reports whether token k occurs in s (n bytes of t's lower-cased text);
 * returns 0 when it does not. */
static int has_in(const ua_text *t, const char *s, size_t n, const ua_token *k)
{
    const unsigned char *w = (const unsigned char *)k->s;
    if (k->len > n || !ua_byte(t, w[0]) || !ua_byte(t, w[k->len - 1]))
        return 0;
    if (k->len >= 3 && (!ua_pair(t, w[0], w[1]) || !ua_pair(t, w[k->len - 2], w[k->len - 1])))
        return 0;
    return memmem(s, n, k->s, k->len) != NULL;
}

/* Reports whether token k occurs anywhere in t; returns 0 when it does not. */
static int has(const ua_text *t, const ua_token *k)
{
    return has_in(t, t->s, t->n, k);
}

static int has_any(const ua_text *t, const ua_token *table, size_t count);

/* Reports whether t holds "bot" ending a word ("Googlebot/2.1", "AhrefsBot;",
 * "bot") other than a phone brand ("Cubot") or a longer word ("Botswana",
 * "robotics"); returns 0 when it does not. */
static int has_bot_word(const ua_text *t)
{
    const char *p = t->s, *end = t->s + t->n;
    if (!ua_byte(t, 'b'))
        return 0;
    while ((p = memmem(p, (size_t)(end - p), "bot", 3)) != NULL) {
        char next = p + 3 < end ? p[3] : ' ';
        if (!(next >= 'a' && next <= 'z') && !(p - t->s >= 2 && p[-2] == 'c' && p[-1] == 'u'))
            return 1;
        p++;
    }
    return 0;
}

/* Reports whether t names a web address or an e-mail address, as programs
 * do to say who runs them and browsers never do; returns 0 when not. */
static int has_address(const ua_text *t)
{
    static const ua_token marks[] = {T("http://"), T("https://"), T("www."), T("mailto:"),
                                     T("+http"), T("[at]"), T("(at)")};
    const char *at;
    if (has_any(t, marks, sizeof marks / sizeof marks[0]))
        return 1;
    at = memchr(t->s, '@', t->n);     /* name@host.tld, not "th-TH@calendar=gregorian" */
    if (!at || at == t->s || at[-1] == ' ')
        return 0;
    for (const char *p = at + 1; p < t->s + t->n; p++) {
        if (*p == '.')
            return p > at + 1;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    }
    return 0;
}

/* Reports whether t looks like a program rather than people's software:
 * no "Mozilla/" prefix and no mark of a browser or an e-mail client, or
 * "compatible;" without a real client that uses it; returns 0 when not. */
static int is_program(const ua_text *t)
{
    static const ua_token compat = T("compatible;");
    if (t->n < 8 || memcmp(t->s, "mozilla/", 8) != 0)
        return !has_any(t, people_apps, sizeof people_apps / sizeof people_apps[0]);
    return has(t, &compat) &&
           !has_any(t, compatible_people, sizeof compatible_people / sizeof compatible_people[0]);
}

/* Reports whether any token of table (count entries) occurs in t; returns
 * 0 when none does. */
static int has_any(const ua_text *t, const ua_token *table, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (has(t, &table[i]))
            return 1;
    return 0;
}

/* Reports whether t is Apple Mail Privacy Protection's prefetch UA: a Mac
 * WebKit UA ending right after "(KHTML, like Gecko)" with no browser token;
 * returns 0 when it is not. */
static int is_apple_mpp(const ua_text *t)
{
    static const ua_token tail = T("(khtml, like gecko)"), mac = T("macintosh"),
                          webkit = T("applewebkit/"), safari = T("safari"),
                          version = T("version/"), chrome = T("chrome");
    size_t n = t->n;
    while (n > 0 && (t->s[n - 1] == ' ' || t->s[n - 1] == '\t'))
        n--;
    if (n < tail.len || memcmp(t->s + n - tail.len, tail.s, tail.len) != 0)
        return 0;
    return has(t, &mac) && has(t, &webkit) && !has(t, &safari) && !has(t, &version) &&
           !has(t, &chrome);
}

/* Classifies a User-Agent for a hit through via; never fails (NULL or empty
 * is a bot; API hits are trusted and human). */
proto_agent proto_ua_classify(const char *ua, size_t len, proto_via via)
{
    ua_text t;

    if (via == PROTO_VIA_API)
        return PROTO_AGENT_HUMAN;
    if (!ua)
        len = 0;
    while (len > 0 && (ua[0] == ' ' || ua[0] == '\t')) {
        ua++;
        len--;
    }
    if (len == 0)
        return PROTO_AGENT_BOT;
    ua_text_init(&t, ua, len);
    if (has_any(&t, mailproxy_tokens, sizeof mailproxy_tokens / sizeof mailproxy_tokens[0]) ||
        is_apple_mpp(&t))           /* a relay fetches images, never links */
        return via == PROTO_VIA_PIXEL ? PROTO_AGENT_MAILPROXY : PROTO_AGENT_HUMAN;
    if (has_bot_word(&t) || has_address(&t) || is_program(&t) ||
        has_any(&t, bot_tokens, sizeof bot_tokens / sizeof bot_tokens[0]))
        return PROTO_AGENT_BOT;
    return PROTO_AGENT_HUMAN;
}
