/* test_proto_resp.c: unit tests of proto/resp.c — RESP command framing
 * compared byte for byte with what hiredis' own formatter produces. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "guard.h"

/* Checks a command against redisFormatCommandArgv; fails on a difference. */
START_TEST(matches_hiredis)
{
    proto_resp args = {0}, out = {0};
    const char *argv[] = {"EVALSHA", "abc", "2", "k1", "", "x\r\ny", "-42", "9223372036854775807"};
    size_t lens[] = {7, 3, 1, 2, 0, 4, 3, 19};
    proto_resp_str(&args, "EVALSHA");
    proto_resp_arg(&args, "abc", 3);
    proto_resp_ll(&args, 2);
    proto_resp_str(&args, "k1");
    proto_resp_arg(&args, "", 0);
    proto_resp_arg(&args, "x\r\nyZZ", 4);
    proto_resp_ll(&args, -42);
    proto_resp_ll(&args, LLONG_MAX);
    ck_assert_uint_eq(args.nargs, 8);
    proto_resp_command(&out, &args);
    ck_assert_int_eq(out.oom, 0);
    ck_assert_uint_eq(out.nargs, 0);
    char *want = NULL;
    int wl = redisFormatCommandArgv(&want, 8, argv, lens);
    ck_assert_int_gt(wl, 0);
    ck_assert_uint_eq(out.len, (size_t)wl);
    ck_assert_mem_eq(out.data, want, (size_t)wl);
    /* two commands back to back, the second made by concatenation */
    proto_resp tail = {0}, two = {0};
    proto_resp_ll(&tail, LLONG_MIN);
    proto_resp_reset(&args);
    proto_resp_str(&args, "GET");
    proto_resp_cat(&args, &tail);
    proto_resp_command(&two, &args);
    proto_resp_command(&two, &args);
    const char one[] = "*2\r\n$3\r\nGET\r\n$20\r\n-9223372036854775808\r\n";
    ck_assert_uint_eq(two.len, 2 * (sizeof one - 1));
    ck_assert_mem_eq(two.data, one, sizeof one - 1);
    ck_assert_mem_eq(two.data + sizeof one - 1, one, sizeof one - 1);
    redisFreeCommand(want);
    proto_resp_free(&args);
    proto_resp_free(&out);
    proto_resp_free(&tail);
    proto_resp_free(&two);
    proto_resp_free(&two); /* a freed (zeroed) buffer frees again as a no-op */
}
END_TEST

/* Checks a buffer grows past its first allocation intact; fails on loss. */
START_TEST(grows)
{
    proto_resp r = {0};
    for (int i = 0; i < 10000; i++)
        proto_resp_ll(&r, i);
    ck_assert_int_eq(r.oom, 0);
    ck_assert_uint_eq(r.nargs, 10000);
    /* the last argument is "$4\r\n9999\r\n" */
    ck_assert_mem_eq(r.data + r.len - 10, "$4\r\n9999\r\n", 10);
    proto_resp_reset(&r);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_uint_eq(r.nargs, 0);
    proto_resp_free(&r);
}
END_TEST

/* Builds the suite. */
static Suite *resp_suite(void)
{
    Suite *s = suite_create("proto_resp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, matches_hiredis);
    tcase_add_test(tc, grows);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite. Returns 0 if every test passed, 1 otherwise. */
int main(void)
{
    return unit_run(resp_suite());
}
