/* webhook_post.c: test driver — posts a body to a URL with agg_webhook_post and prints the status or the error. */
#include <stdio.h>
#include <string.h>

#include "webhook.h"

/* Posts argv[2] to argv[1]; returns 0 on a 2xx answer, 1 otherwise (2 on usage). */
int main(int argc, char **argv)
{
    char err[512] = "";
    if (argc != 3) {
        fprintf(stderr, "usage: %s URL BODY\n", argv[0]);
        return 2;
    }
    int status = agg_webhook_post(argv[1], argv[2], strlen(argv[2]), 5000, err, sizeof err);
    if (status < 0) {
        printf("error: %s\n", err);
        return 1;
    }
    printf("status %d\n", status);
    return status >= 200 && status < 300 ? 0 : 1;
}
