/* lr_status.c -- texts of the status codes, from the one list in linrep.h (LR_STATUS_LIST). */
#include "lr_internal.h"

const char *lr_status_str(lr_status status)
{
#if !LR_STATUS_TEXTS
    (void)status;
    return ""; /* -DLR_STATUS_TEXTS=0: codes only (linrep.h) */
#else
    switch (status) {
#define LR_STATUS_CASE_(name, value, text) \
    case name:                             \
        return text;
        LR_STATUS_LIST(LR_STATUS_CASE_)
#undef LR_STATUS_CASE_
    default:
        break;
    }
    return "unknown status";
#endif
}
