/*
 * lr_crc32.c -- CRC-32 as zlib.crc32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and
 * final XOR 0xFFFFFFFF), four bits at a time with a 64-byte table: it runs once per lr_init, so a
 * 1 KiB byte table would cost flash for little (two lookups per byte instead of one).
 * Entry n is the CRC register after 4 shift steps from n; printed by:
 *   for n in range(16): c = n; 4 x (c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1)
 */
#include "lr_internal.h"

static const uint32_t lr_crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t lr_crc32_update(uint32_t crc, const unsigned char *data, size_t n)
{
    size_t i;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= data[i];
        crc = lr_crc_nibble[crc & 0x0Fu] ^ (crc >> 4);
        crc = lr_crc_nibble[crc & 0x0Fu] ^ (crc >> 4);
    }
    return ~crc;
}
