/*
 * test_status.c -- status codes: LR_OK is 0, errors are negative and distinct, every code has its
 * own non-empty text, and values outside the enum get "unknown status". Built with the library's flags: in
 * a build with -DLR_STATUS_TEXTS=0 (make ops-check), every status's text is "" and the codes are unchanged.
 */
#include <string.h>

#include "linrep.h"
#include "test_util.h"

static const lr_status all_codes[] = {
#define X_(name, value, text) name,
    LR_STATUS_LIST(X_)
#undef X_
};

int main(void)
{
    size_t n = sizeof all_codes / sizeof all_codes[0], i, j;
    TU_CHECK(LR_OK == 0);
    TU_CHECK(n >= 23);
#if defined(LR_STATUS_TEXTS) && !LR_STATUS_TEXTS
    for (i = 0; i < n; i++) {
        TU_CHECK(lr_status_str(all_codes[i]) != NULL && lr_status_str(all_codes[i])[0] == '\0');
        TU_CHECK(i == 0 || (int)all_codes[i] < 0);
        for (j = 0; j < i; j++) {
            TU_CHECK(all_codes[i] != all_codes[j]);
        }
    }
    TU_CHECK(strcmp(lr_status_str((lr_status)-1000), "") == 0);
    return tu_report("test_status (-DLR_STATUS_TEXTS=0)");
#else
    TU_CHECK(strcmp(lr_status_str(LR_OK), "ok") == 0);
    for (i = 0; i < n; i++) {
        const char *s = lr_status_str(all_codes[i]);
        TU_CHECK(s != NULL && s[0] != '\0');
        TU_CHECK(strcmp(s, "unknown status") != 0);
        TU_CHECK(i == 0 || (int)all_codes[i] < 0);
        for (j = 0; j < i; j++) {
            TU_CHECK(all_codes[i] != all_codes[j]);
            TU_CHECK(strcmp(s, lr_status_str(all_codes[j])) != 0);
        }
    }
    TU_CHECK(strcmp(lr_status_str((lr_status)1), "unknown status") == 0);
    TU_CHECK(strcmp(lr_status_str((lr_status)-1000), "unknown status") == 0);
    TU_CHECK(strstr(lr_status_str(LR_ERR_CRC), "CRC") != NULL);
    TU_CHECK(strstr(lr_status_str(LR_ERR_ARENA_TOO_SMALL), "arena") != NULL);
    return tu_report("test_status");
#endif
}
