/* ua.c: owns user-agent classification into human, bot and mailproxy (SPEC 2). */
#include "ua.h"

#include <string.h>

/* Mail image proxies: machine opens on the pixel, people on a click.
 * Lower-case substrings; matched case-insensitively. */
static const char *const mailproxy_tokens[] = {
    "googleimageproxy",             /* Gmail */
    "ggpht.com",                    /* Gmail */
    "yahoomailproxy",               /* Yahoo Mail */
    "yandeximageresizer",           /* Yandex Mail */
};

/* Machines everywhere: crawlers, link expanders, security gateways, HTTP
 * libraries, headless browsers, monitors. Lower-case substrings. The generic
 * "bot" is handled apart (see has_bot_word). */
static const char *const bot_tokens[] = {
    /* crawlers and AI fetchers not caught by "bot" */
    "crawler", "spider", "crawl", "slurp", "ia_archiver", "feedfetcher",
    "mediapartners-google", "google-inspectiontool", "googleother", "google-read-aloud",
    "google-pagerenderer", "bingpreview", "chatgpt-user", "claude-web", "anthropic-ai",
    "perplexity", "cohere-ai", "diffbot",
    /* link expanders and previews */
    "facebookexternalhit", "facebookcatalog", "meta-externalagent", "whatsapp",
    "skypeuripreview", "embedly", "iframely", "quora link preview", "vkshare",
    "redditbot", "slack-imgproxy", "slackbot", "discordbot", "telegrambot",
    "linkedinbot", "twitterbot", "nuzzel", "outbrain", "snap url preview",
    "preview", "validator",
    /* security gateways and link scanners */
    "existence discovery", "protocol discovery", "safelinks", "safe links",
    "proofpoint", "ppops-", "mimecast", "barracuda", "symantec", "messagelabs",
    "forcepoint", "ironport", "trendmicro", "trend micro", "fireeye", "zscaler",
    "sophos", "cloudmark", "virustotal", "urlscan", "phishtank", "scanner",
    /* HTTP libraries and tools */
    "curl/", "libcurl", "wget", "python-requests", "python-urllib", "python/",
    "aiohttp", "httpx", "urllib", "go-http-client", "okhttp", "java/", "jakarta",
    "apache-httpclient", "libwww", "lwp::", "axios", "node-fetch", "undici", "got (",
    "guzzlehttp", "ruby", "faraday", "http.rb", "httpclient", "rest-client",
    "postmanruntime", "insomnia", "httpie", "powershell", "scrapy",
    "colly", "aria2", "reqwest", "dart:io", "go-resty",
    /* headless and automated browsers */
    "headlesschrome", "headless", "phantomjs", "slimerjs", "htmlunit", "puppeteer",
    "playwright", "selenium", "webdriver", "lighthouse", "pagespeed", "chrome-lighthouse",
    /* monitors */
    "pingdom", "uptimerobot", "statuscake", "site24x7", "datadog", "newrelic",
    "nagios", "zabbix", "monitor", "check_http",
};

/* Lower-cases one ASCII byte; never fails. */
static unsigned char lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Reports whether lower-case needle occurs in s (n bytes), ignoring case;
 * returns 0 when it does not. */
static int has(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    unsigned char first = (unsigned char)needle[0];

    if (m == 0 || m > n)
        return 0;
    for (size_t i = 0; i + m <= n; i++) {
        if (lc((unsigned char)s[i]) != first)
            continue;
        size_t k = 1;
        while (k < m && lc((unsigned char)s[i + k]) == (unsigned char)needle[k])
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

/* Reports whether s holds "bot" other than inside a phone brand ("Cubot");
 * returns 0 when it does not. */
static int has_bot_word(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++) {
        if (lc((unsigned char)s[i]) != 'b' || lc((unsigned char)s[i + 1]) != 'o' ||
            lc((unsigned char)s[i + 2]) != 't')
            continue;
        if (i >= 2 && lc((unsigned char)s[i - 2]) == 'c' && lc((unsigned char)s[i - 1]) == 'u')
            continue;
        return 1;
    }
    return 0;
}

/* Reports whether any token of table (count entries) occurs in s; returns 0
 * when none does. */
static int has_any(const char *s, size_t n, const char *const *table, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (has(s, n, table[i]))
            return 1;
    return 0;
}

/* Reports whether s is Apple Mail Privacy Protection's prefetch UA: a Mac
 * WebKit UA ending right after "(KHTML, like Gecko)" with no browser token;
 * returns 0 when it is not. */
static int is_apple_mpp(const char *s, size_t n)
{
    static const char tail[] = "(khtml, like gecko)";
    size_t tl = sizeof tail - 1;

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n < tl || !has(s + n - tl, tl, tail))
        return 0;
    return has(s, n, "macintosh") && has(s, n, "applewebkit/") && !has(s, n, "safari") &&
           !has(s, n, "version/") && !has(s, n, "chrome");
}

/* Classifies a User-Agent for a hit through via; never fails (NULL or empty
 * is a bot; API hits are trusted and human). */
proto_agent proto_ua_classify(const char *ua, size_t len, proto_via via)
{
    int relay;

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
    relay = has_any(ua, len, mailproxy_tokens,
                    sizeof mailproxy_tokens / sizeof mailproxy_tokens[0]) ||
            is_apple_mpp(ua, len);
    if (relay)                      /* a relay fetches images, never links */
        return via == PROTO_VIA_PIXEL ? PROTO_AGENT_MAILPROXY : PROTO_AGENT_HUMAN;
    if (has_bot_word(ua, len) ||
        has_any(ua, len, bot_tokens, sizeof bot_tokens / sizeof bot_tokens[0]))
        return PROTO_AGENT_BOT;
    return PROTO_AGENT_HUMAN;
}
