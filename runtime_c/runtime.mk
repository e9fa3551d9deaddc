# runtime_c/runtime.mk -- the one build description of the linrep-edge C runtime.
#
# Included by runtime_c/Makefile (host library, tests, sanitizer, fuzz, Cortex-M libraries) and by
# runtime_c/mcu/Makefile (the bench firmware, which links liblinrep_<target>.a like a user's firmware
# would). It says, once:
#   LR_SRCS        the runtime's sources (src/ and the reference kernels in src/kernels/ref/)
#   LR_HDRS        the headers they depend on
#   LR_INC         include directories (include/ is the public one; src/ is private)
#   LR_STD         the language standard (C99)
#   LR_EXACT       the flags bit-exactness rests on: every build of the runtime uses them
#   LR_CFLAGS      LR_STD, warnings, LR_EXACT, LR_INC and LR_DEFINES (every build adds its -O level)
#   LR_CPU_<cpu>   code-generation flags per Cortex-M CPU (LR_ARM_CPUS lists them)
#   LR_ARM_CFLAGS  the rest of a Cortex-M library build (sections for --gc-sections, stack usage)
#   lr_lib_rules   rules for one library build: one object per source, then the archive
#
# A firmware project can use it the same way: include it, $(eval $(call lr_lib_rules,...)) for its
# CPU and link the archive; or run `make -C runtime_c lib TARGET=cortex-m4` and link
# runtime_c/build/cortex-m4-O2/liblinrep_cortex-m4.a with -I runtime_c/include (and -lm).
# `linrep-edge export-project` asks runtime_c/Makefile for these lists and flags (print-sources,
# print-flags) and writes them into a stand-alone project's CMakeLists.txt and Makefile.

LR_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
LR_DIR := $(patsubst %/,%,$(dir $(LR_MK)))

# -- sources ---------------------------------------------------------------------------------------
# LR_KERNELS=opt (default): the int8 conv / linear / LinRep kernels of src/kernels/opt/ (ACLE SIMD under
# __ARM_FEATURE_DSP, portable C elsewhere) run, beside the references (kept: the oracle of the tests);
# LR_KERNELS=ref: the reference kernels only (-DLR_OPT_KERNELS=0). The default needs no define, so a
# project built from `make print-sources` (export-project) runs the optimised kernels.
# LR_KERNELS=<kinds>, '+'-separated among conv (dense and depthwise CONV2D, dense CONV_TRANSPOSE2D, bilinear
# RESIZE), linear, add (elementwise ADD and MUL), linrep (both LinRep paths, LinRep CONV_TRANSPOSE2D) and act (the elementwise activations by table): the optimised kernels of those kinds
# only, the references for the rest (-DLR_OPT_KERNELS=<mask>, bit 0 conv, 1 linear, 2 add, 3 linrep, 4 act;
# lr_internal.h), e.g. LR_KERNELS=linrep: the
# LinRep convs fast, every other op in the least code.
# Each build keeps its objects apart: LR_BUILD_TAG ends the names of the build folders (empty for opt, -ref for
# ref, -k<mask> for a list), so that two builds never mix objects compiled with different kernels.
LR_KERNELS ?= opt
LR_OPT_KINDS := conv linear add linrep act
ifeq ($(LR_KERNELS),opt)
  LR_SRC_DIRS := $(LR_DIR)/src $(LR_DIR)/src/kernels/ref $(LR_DIR)/src/kernels/opt
  LR_KERNEL_DEFINES :=
  LR_BUILD_TAG :=
else ifeq ($(LR_KERNELS),ref)
  LR_SRC_DIRS := $(LR_DIR)/src $(LR_DIR)/src/kernels/ref
  LR_KERNEL_DEFINES := -DLR_OPT_KERNELS=0
  LR_BUILD_TAG := -ref
else
  LR_KERNEL_LIST := $(subst +, ,$(LR_KERNELS))
  ifneq ($(filter-out $(LR_OPT_KINDS),$(LR_KERNEL_LIST)),)
    $(error runtime.mk: LR_KERNELS=$(LR_KERNELS): use opt, ref or a '+'-separated list of $(LR_OPT_KINDS))
  endif
  ifeq ($(strip $(LR_KERNEL_LIST)),)
    $(error runtime.mk: LR_KERNELS is empty: use opt, ref or a '+'-separated list of $(LR_OPT_KINDS))
  endif
  LR_OPT_MASK := $(words $(if $(filter conv,$(LR_KERNEL_LIST)),x) $(if $(filter linear,$(LR_KERNEL_LIST)),x x) \
                   $(if $(filter add,$(LR_KERNEL_LIST)),x x x x) $(if $(filter linrep,$(LR_KERNEL_LIST)),x x x x x x x x) \
                   $(if $(filter act,$(LR_KERNEL_LIST)),x x x x x x x x x x x x x x x x))
  LR_SRC_DIRS := $(LR_DIR)/src $(LR_DIR)/src/kernels/ref $(LR_DIR)/src/kernels/opt
  LR_KERNEL_DEFINES := -DLR_OPT_KERNELS=$(LR_OPT_MASK)u
  LR_BUILD_TAG := -k$(LR_OPT_MASK)
endif
LR_SRCS := $(foreach d,$(LR_SRC_DIRS),$(sort $(wildcard $(d)/*.c)))
LR_HDRS := $(LR_DIR)/include/linrep.h $(foreach d,$(LR_DIR)/src $(LR_DIR)/src/kernels,$(wildcard $(d)/*.h))
# Objects are named by the source's base name (archive members have no directory): keep them unique.
LR_OBJ_NAMES := $(notdir $(LR_SRCS:.c=.o))
ifneq ($(words $(LR_OBJ_NAMES)),$(words $(sort $(LR_OBJ_NAMES))))
  $(error runtime.mk: two runtime sources share a base name)
endif
vpath %.c $(LR_SRC_DIRS)

LR_INC := -I$(LR_DIR)/include -I$(LR_DIR)/src

# -- flags -----------------------------------------------------------------------------------------
# Bit-exactness: no fused multiply-add anywhere (a * t + b, y += w * x are rounded twice on every
# target), so host and Cortex-M builds give the same bits. Never build the runtime without this.
LR_EXACT := -ffp-contract=off
LR_WARN := -Wall -Wextra -Werror -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes \
           -Wmissing-prototypes -Wcast-align -Wvla
LR_STD := -std=c99
# Build options of the library (linrep.h), e.g. LR_DEFINES=-DLR_INT8=0 (no int8 models: no integer kernels).
LR_DEFINES ?=
LR_CFLAGS := $(LR_STD) $(LR_WARN) $(LR_EXACT) $(LR_INC) $(LR_DEFINES) $(LR_KERNEL_DEFINES)

# Cortex-M CPUs: the one place their flags are written (the bench firmware uses these too).
LR_ARM_CPUS := cortex-m3 cortex-m4 cortex-m7 cortex-m33
LR_CPU_cortex-m3 := -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
LR_CPU_cortex-m4 := -mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard
LR_CPU_cortex-m7 := -mthumb -mcpu=cortex-m7 -mfpu=fpv5-d16 -mfloat-abi=hard
LR_CPU_cortex-m33 := -mthumb -mcpu=cortex-m33 -mfpu=fpv5-sp-d16 -mfloat-abi=hard
LR_ARM_CFLAGS := -ffunction-sections -fdata-sections -fstack-usage
LR_ARM_CROSS ?= arm-none-eabi-

# Host: let GCC vectorise the conv's inner loop over output x (runtime trip count).
LR_HOST_CFLAGS := -ftree-vectorize -fvect-cost-model=dynamic

# Flags of a Cortex-M library: $(call lr_arm_cflags,CPU,OPT)
lr_arm_cflags = $(LR_CFLAGS) $(2) $(LR_CPU_$(1)) $(LR_ARM_CFLAGS)

# -- rules -----------------------------------------------------------------------------------------
# $(eval $(call lr_lib_rules,OBJDIR,ARCHIVE,CC,AR,CFLAGS_VAR,EXTRA_DEPS)): OBJDIR/<name>.o for every
# source, compiled with `CC $(CFLAGS_VAR)` (the variable's name, so that flags may contain commas),
# and the static library ARCHIVE (a path) holding them. Objects are rebuilt when a header,
# runtime.mk or EXTRA_DEPS change.
define lr_lib_rules
$(1)/%.o: %.c $$(LR_HDRS) $$(LR_MK) $(6)
	@mkdir -p $$(@D)
	$(3) $$($(5)) -c $$< -o $$@

$(2): $$(addprefix $(1)/,$$(LR_OBJ_NAMES))
	@rm -f $$@
	$(4) rcs $$@ $$^
endef
