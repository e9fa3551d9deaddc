/*
 * lr_helpers.c -- the one out-of-line copy of the LR_HELPER functions of lr_internal.h in
 * size-optimised builds (-Os); empty otherwise (they are static inline there).
 */
#define LR_HELPERS_DEFINE
#include "lr_internal.h"

