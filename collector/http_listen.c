/* http_listen.c: the collector's listening socket — "host:port" parsed,
 * bound with SO_REUSEADDR/SO_REUSEPORT (one listener per thread), made
 * non-blocking. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"

/* Opens the listener for "host:port", "[v6]:port", ":port" or "*:port"
 * (the last two mean 0.0.0.0); port 0 picks a free port. Returns the fd,
 * or -1 with errno set (EINVAL for a malformed address). */
int coll_http_listen(const char *hostport)
{
    char host[256];
    const char *port, *hs = hostport, *he;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, err = EADDRNOTAVAIL, one = 1, r;
    long pn;
    char *endp;

    if (!hostport)
        goto bad;
    if (*hs == '[') {
        hs++;
        he = strchr(hs, ']');
        if (!he || he == hs || he[1] != ':')
            goto bad;
        port = he + 2;
    } else {
        he = strchr(hs, ':');
        if (!he || strchr(he + 1, ':'))
            goto bad;
        port = he + 1;
    }
    if ((size_t)(he - hs) >= sizeof(host) || *port < '0' || *port > '9')
        goto bad;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    errno = 0;
    pn = strtol(port, &endp, 10);
    if (*endp || errno || pn > 65535)
        goto bad;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        errno = r == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
        return -1;
    }
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        err = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        errno = err;
    return fd;
bad:
    errno = EINVAL;
    return -1;
}
