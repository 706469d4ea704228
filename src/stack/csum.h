/* csum.h — the Internet checksum (RFC 1071) and its helpers.
 *
 * csum_add() accumulates a ones'-complement sum over any number of chunks
 * (only the last chunk may have odd length); csum_fold() finishes it.  A
 * received header with its checksum field included sums to 0 when intact.
 * csum_update16() adjusts a stored checksum when one 16-bit field changes
 * (RFC 1624, eqn. 3), so a forwarded or rewritten header need not be
 * summed again. */
#ifndef RW_STACK_CSUM_H
#define RW_STACK_CSUM_H

#include <stddef.h>
#include <stdint.h>

uint64_t csum_add(uint64_t sum, const void *data, size_t len);
/* Folds to 16 bits and complements: the value to store in a header. */
uint16_t csum_fold(uint64_t sum);
/* Checksum of one buffer (IPv4 header, ICMP message). */
uint16_t csum(const void *data, size_t len);
/* Sum of the IPv4 pseudo-header (RFC 768 / RFC 9293 3.1); host-order args. */
uint64_t csum_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* New checksum after a 16-bit field changed from old_val to new_val. */
uint16_t csum_update16(uint16_t check, uint16_t old_val, uint16_t new_val);

#endif
