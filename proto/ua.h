/* ua.h: user-agent classification into human, bot and mailproxy (SPEC 2). */
#ifndef PROTO_UA_H
#define PROTO_UA_H

#include <stddef.h>
#include "hit.h"

/* Classifies a User-Agent header (ua, len bytes; NULL or empty is a bot) for
 * a hit arriving through via. Mail image proxies (Gmail's GoogleImageProxy,
 * Yahoo's YahooMailProxy, Apple Mail Privacy Protection's bare WebKit UA,
 * Outlook/other image proxies) are PROTO_AGENT_MAILPROXY on the pixel, but a
 * relay does not follow links, so the same UA on a click is human. Crawlers,
 * link scanners and security gateways are PROTO_AGENT_BOT. */
proto_agent proto_ua_classify(const char *ua, size_t len, proto_via via);

#endif
