/*
 * test_hostile.c -- lr_init on hand-built buffers: one valid minimal blob, written out field by
 * field, then one mutation per check (each error code the verifier can give), and the argument
 * checks of the API.
 *
 * The minimal model: tensors 0 and 1 of shape [4]; input 0, output 1; one op RELU(0) -> 1.
 * FlatBuffers layout: see lr_verify.c. Offsets are from the start of the buffer; little-endian.
 */
#include <stdint.h>
#include <string.h>

#include "lr_internal.h"
#include "test_util.h"

#define BLOB_SIZE 0x94

static const unsigned char valid_blob[BLOB_SIZE] = {
    /* 0x00 root: uoffset to the Model table at 0x1C */         0x1C, 0x00, 0x00, 0x00,
    /* 0x04 file identifier */                                  'L', 'R', 'E', '1',
    /* 0x08 Model vtable: 18 bytes, table 24 bytes */           0x12, 0x00, 0x18, 0x00,
    /* 0x0C slot 0 crc32 at +4, slot 1 format_version at +8 */  0x04, 0x00, 0x08, 0x00,
    /* 0x10 slot 2 producer absent, slot 3 tensors at +12 */    0x00, 0x00, 0x0C, 0x00,
    /* 0x14 slot 4 input absent (0), slot 5 output at +16 */    0x00, 0x00, 0x10, 0x00,
    /* 0x18 slot 6 ops at +20; 2 bytes of padding */            0x14, 0x00, 0x00, 0x00,
    /* 0x1C Model table: soffset 20 -> vtable at 0x08 */        0x14, 0x00, 0x00, 0x00,
    /* 0x20 crc32 (patched by fix_crc) */                       0x00, 0x00, 0x00, 0x00,
    /* 0x24 format_version = 1 */                               0x01, 0x00, 0x00, 0x00,
    /* 0x28 tensors: uoffset 0x14 -> vector at 0x3C */          0x14, 0x00, 0x00, 0x00,
    /* 0x2C output = tensor 1 */                                0x01, 0x00, 0x00, 0x00,
    /* 0x30 ops: uoffset 0x3C -> vector at 0x6C */              0x3C, 0x00, 0x00, 0x00,
    /* 0x34 Tensor vtable: 6 bytes, table 8, shape at +4 */     0x06, 0x00, 0x08, 0x00,
    /* 0x38 ... ; 2 bytes of padding */                         0x04, 0x00, 0x00, 0x00,
    /* 0x3C tensors vector: length 2 */                         0x02, 0x00, 0x00, 0x00,
    /* 0x40 element 0: uoffset 8 -> Tensor at 0x48 */           0x08, 0x00, 0x00, 0x00,
    /* 0x44 element 1: uoffset 12 -> Tensor at 0x50 */          0x0C, 0x00, 0x00, 0x00,
    /* 0x48 Tensor 0: soffset 20 -> vtable at 0x34 */           0x14, 0x00, 0x00, 0x00,
    /* 0x4C shape: uoffset 12 -> vector at 0x58 */              0x0C, 0x00, 0x00, 0x00,
    /* 0x50 Tensor 1: soffset 28 -> vtable at 0x34 */           0x1C, 0x00, 0x00, 0x00,
    /* 0x54 shape: uoffset 0x38 -> vector at 0x8C */            0x38, 0x00, 0x00, 0x00,
    /* 0x58 shape of tensor 0: length 1 */                      0x01, 0x00, 0x00, 0x00,
    /* 0x5C [4] */                                              0x04, 0x00, 0x00, 0x00,
    /* 0x60 Op vtable: 12 bytes, table 16 bytes */              0x0C, 0x00, 0x10, 0x00,
    /* 0x64 slot 0 type at +12, slot 1 name absent */           0x0C, 0x00, 0x00, 0x00,
    /* 0x68 slot 2 inputs at +4, slot 3 output at +8 */         0x04, 0x00, 0x08, 0x00,
    /* 0x6C ops vector: length 1 */                             0x01, 0x00, 0x00, 0x00,
    /* 0x70 element 0: uoffset 4 -> Op at 0x74 */               0x04, 0x00, 0x00, 0x00,
    /* 0x74 Op: soffset 20 -> vtable at 0x60 */                 0x14, 0x00, 0x00, 0x00,
    /* 0x78 inputs: uoffset 12 -> vector at 0x84 */             0x0C, 0x00, 0x00, 0x00,
    /* 0x7C output = tensor 1 */                                0x01, 0x00, 0x00, 0x00,
    /* 0x80 type = RELU (3); 3 bytes of padding */              0x03, 0x00, 0x00, 0x00,
    /* 0x84 inputs vector: length 1 */                          0x01, 0x00, 0x00, 0x00,
    /* 0x88 [0] */                                              0x00, 0x00, 0x00, 0x00,
    /* 0x8C shape of tensor 1: length 1 */                      0x01, 0x00, 0x00, 0x00,
    /* 0x90 [4] */                                              0x04, 0x00, 0x00, 0x00,
};

#define CRC_POS 0x20u

static unsigned char buf[BLOB_SIZE];

static void put32(uint32_t pos, uint32_t v)
{
    buf[pos] = (unsigned char)v;
    buf[pos + 1] = (unsigned char)(v >> 8);
    buf[pos + 2] = (unsigned char)(v >> 16);
    buf[pos + 3] = (unsigned char)(v >> 24);
}

static void put16(uint32_t pos, uint32_t v)
{
    buf[pos] = (unsigned char)v;
    buf[pos + 1] = (unsigned char)(v >> 8);
}

/* CRC-32 of the buffer with the crc32 field read as zero, written into that field. */
static void fix_crc(void)
{
    put32(CRC_POS, 0u);
    put32(CRC_POS, lr_crc32_update(0u, buf, BLOB_SIZE));
}

static void reset(void)
{
    memcpy(buf, valid_blob, BLOB_SIZE);
    fix_crc();
}

static lr_status init_buf(void)
{
    lr_model m;
    return lr_init(&m, buf, BLOB_SIZE);
}

/* Mutate with put32/put16 after reset(), fix the CRC, expect `want` from lr_init. */
#define EXPECT_AFTER(mutation, want) \
    do {                             \
        reset();                     \
        mutation;                    \
        fix_crc();                   \
        TU_CHECK_STATUS(init_buf(), want); \
    } while (0)

static void test_valid_and_run(void)
{
    lr_model m, bad;
    size_t arena_bytes = 0, n = 0, lower = 0;
    unsigned char arena[256 + 16];
    const float in[4] = {-1.0f, 2.0f, -3.0f, 4.0f};
    float out[4] = {9, 9, 9, 9};
    int32_t dims[LR_MAX_RANK], op, tensor;
    unsigned rank = 0, count = 0, type = 0;
    const char *name = NULL;

    reset();
    TU_CHECK_STATUS(lr_init(&m, buf, BLOB_SIZE), LR_OK);
    TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
    TU_CHECK(arena_bytes > 0 && arena_bytes <= 256);
    TU_CHECK_STATUS(lr_activation_lower_bound(&m, &lower), LR_OK);
    TU_CHECK(lower == 32); /* input and output, 16 bytes each, both live at op 0 */
    TU_CHECK_STATUS(lr_input_size(&m, &n), LR_OK);
    TU_CHECK(n == 4);
    TU_CHECK_STATUS(lr_output_shape(&m, dims, &rank), LR_OK);
    TU_CHECK(rank == 1 && dims[0] == 4);
    TU_CHECK_STATUS(lr_op_count(&m, &count), LR_OK);
    TU_CHECK(count == 1);
    TU_CHECK_STATUS(lr_op_info(&m, 0, &type, &name), LR_OK);
    TU_CHECK(type == LR_OP_TYPE_RELU && name != NULL && name[0] == '\0');
    TU_CHECK_STATUS(lr_op_info(&m, 1, &type, &name), LR_ERR_RANGE);
    TU_CHECK_STATUS(lr_error_location(&m, &op, &tensor), LR_OK);
    TU_CHECK(op == -1 && tensor == -1);

    TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, 4, out, 4), LR_OK);
    TU_CHECK(out[0] == 0.0f && out[1] == 2.0f && out[2] == 0.0f && out[3] == 4.0f);
    /* misaligned arena: aligned inside, needs up to 15 more bytes */
    TU_CHECK_STATUS(lr_run(&m, arena + 1, arena_bytes + 15, in, 4, out, 4), LR_OK);
    TU_CHECK(out[1] == 2.0f);
    TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes - 1, in, 4, out, 4), LR_ERR_ARENA_TOO_SMALL);
    TU_CHECK_STATUS(lr_run(&m, arena, 0, in, 4, out, 4), LR_ERR_ARENA_TOO_SMALL);
    TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, 3, out, 4), LR_ERR_IO_SIZE);
    TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, 4, out, 5), LR_ERR_IO_SIZE);
    TU_CHECK_STATUS(lr_run(NULL, arena, arena_bytes, in, 4, out, 4), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_run(&m, NULL, arena_bytes, in, 4, out, 4), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, NULL, 4, out, 4), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, 4, NULL, 4), LR_ERR_NULL_ARG);

    /* a model that failed lr_init, or was never initialised, is refused */
    TU_CHECK_STATUS(lr_init(&bad, buf, 4), LR_ERR_TRUNCATED);
    TU_CHECK_STATUS(lr_run(&bad, arena, sizeof arena, in, 4, out, 4), LR_ERR_NOT_INITIALIZED);
    TU_CHECK_STATUS(lr_arena_size(&bad, &arena_bytes), LR_ERR_NOT_INITIALIZED);
    memset(&bad, 0, sizeof bad);
    TU_CHECK_STATUS(lr_input_size(&bad, &n), LR_ERR_NOT_INITIALIZED);
    TU_CHECK_STATUS(lr_init(NULL, buf, BLOB_SIZE), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_init(&bad, NULL, BLOB_SIZE), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_arena_size(&m, NULL), LR_ERR_NULL_ARG);
    TU_CHECK(lr_model_sizeof() == sizeof(lr_model));
}

static void test_header(void)
{
    size_t len;
    lr_model m;
    reset();
    /* every truncation fails (most with a CRC mismatch; below 8 bytes: truncated) */
    for (len = 0; len < BLOB_SIZE; len++) {
        lr_status s = lr_init(&m, buf, len);
        TU_CHECK(s != LR_OK);
        if (len < 8) {
            TU_CHECK_STATUS(s, LR_ERR_TRUNCATED);
        }
    }
    reset();
    buf[7] = '2'; /* identifier "LRE2" */
    TU_CHECK_STATUS(init_buf(), LR_ERR_BAD_IDENTIFIER);
    reset();
    buf[CRC_POS] ^= 0x01u; /* one bit of the stored CRC */
    TU_CHECK_STATUS(init_buf(), LR_ERR_CRC);
    reset();
    buf[0x5C] ^= 0x80u; /* a payload bit (tensor 0's dimension) without fixing the CRC */
    TU_CHECK_STATUS(init_buf(), LR_ERR_CRC);
    reset();
    put32(0x24, 2u); /* format_version 2: newer than this runtime (checked before the CRC) */
    TU_CHECK_STATUS(init_buf(), LR_ERR_VERSION);
    reset();
    put32(0x24, 0u); /* format_version 0: invalid */
    TU_CHECK_STATUS(init_buf(), LR_ERR_VERSION);
    reset();
    put32(0x00, 0x1000u); /* root offset past the end */
    TU_CHECK_STATUS(init_buf(), LR_ERR_TRUNCATED);
    reset();
    put16(0x0C, 0u); /* crc32 field absent */
    TU_CHECK_STATUS(init_buf(), LR_ERR_CRC);
}

static void test_structure(void)
{
    /* Model soffset -1000: vtable past the end */
    EXPECT_AFTER(put32(0x1C, (uint32_t)-1000), LR_ERR_OUT_OF_BOUNDS);
    /* Model soffset 21: vtable at an odd position */
    EXPECT_AFTER(put32(0x1C, 21u), LR_ERR_BAD_TABLE);
    /* vtable size 3 (odd, < 4) */
    EXPECT_AFTER(put16(0x08, 3u), LR_ERR_BAD_TABLE);
    /* vtable claims 0x400 bytes */
    EXPECT_AFTER(put16(0x08, 0x400u), LR_ERR_OUT_OF_BOUNDS);
    /* Model field format_version at +22: 4 bytes do not fit the 24-byte table */
    EXPECT_AFTER(put16(0x0E, 22u), LR_ERR_BAD_TABLE);
    /* tensors vector claims 1000 elements */
    EXPECT_AFTER(put32(0x3C, 1000u), LR_ERR_BAD_VECTOR);
    /* tensors uoffset +1: vector misaligned */
    EXPECT_AFTER(put32(0x28, 0x15u), LR_ERR_BAD_VECTOR);
    /* tensors uoffset past the end */
    EXPECT_AFTER(put32(0x28, 0x1000u), LR_ERR_OUT_OF_BOUNDS);
    /* tensors uoffset 0 (points at itself) */
    EXPECT_AFTER(put32(0x28, 0u), LR_ERR_OUT_OF_BOUNDS);
    /* tensor element 1 points to an unaligned table */
    EXPECT_AFTER(put32(0x44, 0x0Du), LR_ERR_BAD_TABLE);
    /* Op field output at +16 in a 16-byte table */
    EXPECT_AFTER(put16(0x6A, 16u), LR_ERR_BAD_TABLE);
    /* inputs vector length 0x40000000: length * 4 overflows 32 bits */
    EXPECT_AFTER(put32(0x84, 0x40000000u), LR_ERR_BAD_VECTOR);
}

static void test_semantics(void)
{
    lr_model m;
    int32_t op, tensor;
    /* tensor 0 of shape [0] */
    EXPECT_AFTER(put32(0x5C, 0u), LR_ERR_BAD_TENSOR);
    /* tensor 0 of shape [-4] */
    EXPECT_AFTER(put32(0x5C, (uint32_t)-4), LR_ERR_BAD_TENSOR);
    /* tensor 1 of shape [5]: RELU's output must be [4] */
    EXPECT_AFTER(put32(0x90, 5u), LR_ERR_SHAPE_MISMATCH);
    /* op output tensor 7 (only 2 tensors) */
    EXPECT_AFTER(put32(0x7C, 7u), LR_ERR_BAD_GRAPH);
    /* op output = tensor 0: overwrites the model input */
    EXPECT_AFTER(put32(0x7C, 0u), LR_ERR_BAD_GRAPH);
    /* op input = tensor 1: read before it is written */
    EXPECT_AFTER(put32(0x88, 1u), LR_ERR_BAD_GRAPH);
    /* op input -1 */
    EXPECT_AFTER(put32(0x88, (uint32_t)-1), LR_ERR_BAD_GRAPH);
    /* model output = tensor 7 */
    EXPECT_AFTER(put32(0x2C, 7u), LR_ERR_BAD_GRAPH);
    /* op type 99: unknown */
    EXPECT_AFTER(buf[0x80] = 99, LR_ERR_UNSUPPORTED_OP);
    /* op type ADD with one input */
    EXPECT_AFTER(buf[0x80] = LR_OP_TYPE_ADD, LR_ERR_BAD_PARAMS);
    /* op type CONV2D on a rank-1 tensor */
    EXPECT_AFTER(buf[0x80] = LR_OP_TYPE_CONV2D, LR_ERR_BAD_PARAMS);
    /* op type LINEAR without a weight constant */
    EXPECT_AFTER(buf[0x80] = LR_OP_TYPE_LINEAR, LR_ERR_BAD_PARAMS);
    /* the failing op and tensor are reported */
    reset();
    put32(0x90, 5u);
    fix_crc();
    TU_CHECK_STATUS(lr_init(&m, buf, BLOB_SIZE), LR_ERR_SHAPE_MISMATCH);
    TU_CHECK_STATUS(lr_error_location(&m, &op, &tensor), LR_OK);
    TU_CHECK(op == 0 && tensor == 1);
}

int main(void)
{
    test_valid_and_run();
    test_header();
    test_structure();
    test_semantics();
    return tu_report("test_hostile");
}
