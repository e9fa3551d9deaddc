/*
 * test_hostile.c -- lr_init on hand-built buffers: one valid minimal blob, written out field by
 * field, then one mutation per check (each error code the verifier can give), and the argument
 * checks of the API.
 *
 * The minimal model: tensors 0 and 1 of shape [4]; output 1; one op RELU(0) -> 1 (op 0 writes
 * tensor 1). FlatBuffers layout: see lr_verify.c. Offsets are from the start of the buffer;
 * little-endian.
 */
#include <stdint.h>
#include <string.h>

#include "lr_internal.h"
#include "test_util.h"

#define BLOB_SIZE 0x6C

static const unsigned char valid_blob[BLOB_SIZE] = {
    /* 0x00 root: uoffset to the Model table at 0x18 */         0x18, 0x00, 0x00, 0x00,
    /* 0x04 file identifier */                                  'L', 'R', 'E', '1',
    /* 0x08 Model vtable: 16 bytes, table 24 bytes */           0x10, 0x00, 0x18, 0x00,
    /* 0x0C slot 0 crc32 at +4, slot 1 format_version at +8 */  0x04, 0x00, 0x08, 0x00,
    /* 0x10 slot 2 producer absent, slot 3 tensors at +12 */    0x00, 0x00, 0x0C, 0x00,
    /* 0x14 slot 4 output at +16, slot 5 ops at +20 */          0x10, 0x00, 0x14, 0x00,
    /* 0x18 Model table: soffset 16 -> vtable at 0x08 */        0x10, 0x00, 0x00, 0x00,
    /* 0x1C crc32 (patched by fix_crc) */                       0x00, 0x00, 0x00, 0x00,
    /* 0x20 format_version = 1 */                               0x01, 0x00, 0x00, 0x00,
    /* 0x24 tensors: uoffset 0x0C -> vector at 0x30 */          0x0C, 0x00, 0x00, 0x00,
    /* 0x28 output = tensor 1 */                                0x01, 0x00, 0x00, 0x00,
    /* 0x2C ops: uoffset 0x18 -> vector at 0x44 */              0x18, 0x00, 0x00, 0x00,
    /* 0x30 tensors vector of Shape structs: length 2 */        0x02, 0x00, 0x00, 0x00,
    /* 0x34 tensor 0: c = 4 (int32) */                          0x04, 0x00, 0x00, 0x00,
    /* 0x38         h = 0, w = 0 (uint16 each): a flat [4] */   0x00, 0x00, 0x00, 0x00,
    /* 0x3C tensor 1: c = 4 */                                  0x04, 0x00, 0x00, 0x00,
    /* 0x40         h = 0, w = 0 */                             0x00, 0x00, 0x00, 0x00,
    /* 0x44 ops vector: length 1 */                             0x01, 0x00, 0x00, 0x00,
    /* 0x48 element 0: uoffset 0x10 -> Op at 0x58 */            0x10, 0x00, 0x00, 0x00,
    /* 0x4C Op vtable: 8 bytes, table 12 bytes */               0x08, 0x00, 0x0C, 0x00,
    /* 0x50 slot 0 type at +8, slot 1 inputs at +4 */           0x08, 0x00, 0x04, 0x00,
    /* 0x54 padding */                                          0x00, 0x00, 0x00, 0x00,
    /* 0x58 Op: soffset 12 -> vtable at 0x4C */                 0x0C, 0x00, 0x00, 0x00,
    /* 0x5C inputs: uoffset 8 -> vector at 0x64 */              0x08, 0x00, 0x00, 0x00,
    /* 0x60 type = RELU (3); 3 bytes of padding */              0x03, 0x00, 0x00, 0x00,
    /* 0x64 inputs vector: length 1 */                          0x01, 0x00, 0x00, 0x00,
    /* 0x68 [0] */                                              0x00, 0x00, 0x00, 0x00,
};

#define CRC_POS 0x1Cu

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
    TU_CHECK_STATUS(lr_output_count(&m, &count), LR_OK); /* no Model.outputs: the one output */
    TU_CHECK(count == 1);
    TU_CHECK_STATUS(lr_output_size_at(&m, 0, &n), LR_OK);
    TU_CHECK(n == 4);
    TU_CHECK_STATUS(lr_output_shape_at(&m, 0, dims, &rank), LR_OK);
    TU_CHECK(rank == 1 && dims[0] == 4);
    TU_CHECK_STATUS(lr_output_size_at(&m, 1, &n), LR_ERR_RANGE);
    TU_CHECK_STATUS(lr_output_shape_at(&m, 1, dims, &rank), LR_ERR_RANGE);
    TU_CHECK_STATUS(lr_output_count(&m, NULL), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_output_size_at(NULL, 0, &n), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_output_shape_at(&m, 0, NULL, &rank), LR_ERR_NULL_ARG);
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
    TU_CHECK_STATUS(lr_output_count(&bad, &count), LR_ERR_NOT_INITIALIZED);
    TU_CHECK_STATUS(lr_output_size_at(&bad, 0, &n), LR_ERR_NOT_INITIALIZED);
    TU_CHECK_STATUS(lr_output_shape_at(&bad, 0, dims, &rank), LR_ERR_NOT_INITIALIZED);
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
    buf[0x34] ^= 0x80u; /* a payload bit (tensor 0's dimension) without fixing the CRC */
    TU_CHECK_STATUS(init_buf(), LR_ERR_CRC);
    reset();
    put32(0x20, LR_FORMAT_VERSION + 1u); /* newer than this runtime (checked before the CRC) */
    TU_CHECK_STATUS(init_buf(), LR_ERR_VERSION);
    reset();
    put32(0x20, 0u); /* format_version 0: invalid */
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
    EXPECT_AFTER(put32(0x18, (uint32_t)-1000), LR_ERR_OUT_OF_BOUNDS);
    /* Model soffset 21: vtable at an odd position */
    EXPECT_AFTER(put32(0x18, 21u), LR_ERR_BAD_TABLE);
    /* vtable size 3 (odd, < 4) */
    EXPECT_AFTER(put16(0x08, 3u), LR_ERR_BAD_TABLE);
    /* vtable claims 0x400 bytes */
    EXPECT_AFTER(put16(0x08, 0x400u), LR_ERR_OUT_OF_BOUNDS);
    /* Model field format_version at +22: 4 bytes do not fit the 24-byte table */
    EXPECT_AFTER(put16(0x0E, 22u), LR_ERR_BAD_TABLE);
    /* tensors vector claims 1000 shapes (8 bytes each) */
    EXPECT_AFTER(put32(0x30, 1000u), LR_ERR_BAD_VECTOR);
    /* tensors uoffset +1: vector misaligned */
    EXPECT_AFTER(put32(0x24, 0x0Du), LR_ERR_BAD_VECTOR);
    /* tensors uoffset past the end */
    EXPECT_AFTER(put32(0x24, 0x1000u), LR_ERR_OUT_OF_BOUNDS);
    /* tensors uoffset 0 (points at itself) */
    EXPECT_AFTER(put32(0x24, 0u), LR_ERR_OUT_OF_BOUNDS);
    /* op element points to an unaligned table */
    EXPECT_AFTER(put32(0x48, 0x0Du), LR_ERR_BAD_TABLE);
    /* Op field inputs at +12 in a 12-byte table */
    EXPECT_AFTER(put16(0x52, 12u), LR_ERR_BAD_TABLE);
    /* inputs vector length 0x40000000: length * 4 overflows 32 bits */
    EXPECT_AFTER(put32(0x64, 0x40000000u), LR_ERR_BAD_VECTOR);
}

static void test_semantics(void)
{
    lr_model m;
    int32_t op, tensor;
    /* tensor 0 of shape [0] */
    EXPECT_AFTER(put32(0x34, 0u), LR_ERR_BAD_TENSOR);
    /* tensor 0 of shape [-4] */
    EXPECT_AFTER(put32(0x34, (uint32_t)-4), LR_ERR_BAD_TENSOR);
    /* tensor 0 of shape [4, 3, 0]: only one of h, w is zero */
    EXPECT_AFTER(put16(0x38, 3u), LR_ERR_BAD_TENSOR);
    /* tensor 1 of shape [5]: RELU's output must be [4] */
    EXPECT_AFTER(put32(0x3C, 5u), LR_ERR_SHAPE_MISMATCH);
    /* op input = tensor 1: its own output, read before it is written */
    EXPECT_AFTER(put32(0x68, 1u), LR_ERR_BAD_GRAPH);
    /* op input -1 */
    EXPECT_AFTER(put32(0x68, (uint32_t)-1), LR_ERR_BAD_GRAPH);
    /* model output = tensor 7 */
    EXPECT_AFTER(put32(0x28, 7u), LR_ERR_BAD_GRAPH);
    /* one tensor for one op: op 0 would write tensor 1, which does not exist */
    EXPECT_AFTER(put32(0x30, 1u), LR_ERR_BAD_GRAPH);
    /* op type 99: unknown */
    EXPECT_AFTER(buf[0x60] = 99, LR_ERR_UNSUPPORTED_OP);
    /* op type ADD with one input */
    EXPECT_AFTER(buf[0x60] = LR_OP_TYPE_ADD, LR_ERR_BAD_PARAMS);
    /* op type CONV2D on a rank-1 tensor */
    EXPECT_AFTER(buf[0x60] = LR_OP_TYPE_CONV2D, LR_ERR_BAD_PARAMS);
    /* op type LINEAR without weights */
    EXPECT_AFTER(buf[0x60] = LR_OP_TYPE_LINEAR, LR_ERR_BAD_CONSTANT);
    /* the failing op and tensor are reported */
    reset();
    put32(0x3C, 5u);
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
