/* csum.c — see csum.h.  Sums 16-bit big-endian words into a 64-bit
 * accumulator, which cannot overflow for any frame we handle, then folds
 * the carries back in (RFC 1071 section 4.1). */
#include "csum.h"

#include "wire.h"

uint64_t csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len >= 2) {
		sum += wire_get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint64_t)p[0] << 8; /* pad the odd byte with zero */
	return sum;
}

uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t csum(const void *data, size_t len)
{
	return csum_fold(csum_add(0, data, len));
}

uint64_t csum_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (uint64_t)(src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       proto + len;
}

uint16_t csum_update16(uint16_t check, uint16_t old_val, uint16_t new_val)
{
	/* HC' = ~(~HC + ~m + m') */
	uint64_t sum = (uint16_t)~check;

	sum += (uint16_t)~old_val;
	sum += new_val;
	return csum_fold(sum);
}
