/* clock.h: the one clock of every program: wall time for timestamps and
 * monotonic time for deadlines and durations. */
#ifndef SYS_CLOCK_H
#define SYS_CLOCK_H

#include <stdint.h>

/* Returns the wall-clock time in ms since the epoch. */
int64_t sys_now_ms(void);

/* Returns the wall-clock time in µs since the epoch. */
int64_t sys_now_us(void);

/* Returns the monotonic time in ms (for deadlines; not comparable across hosts). */
int64_t sys_mono_ms(void);

/* Returns the monotonic time in ns. */
uint64_t sys_mono_ns(void);

#endif
