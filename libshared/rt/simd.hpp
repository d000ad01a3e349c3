// Four-lane float vectors for the few inner loops that the compiler cannot vectorise on
// its own (a reduction needs reassociation, which it may not do without -ffast-math; a
// transpose needs shuffles). GCC and clang vector extensions: SSE on x86-64, NEON on
// ARM, plain code elsewhere. Thread: any; nothing here allocates.
#pragma once

#include "rt/rt.hpp"

#include <bit>
#include <cstdint>

namespace lockstep::simd {

using F4 = float __attribute__((vector_size(16)));
using F2 = float __attribute__((vector_size(8)));
using I4 = std::int32_t __attribute__((vector_size(16)));

inline F4 load4(const float* p) noexcept RT_NONBLOCKING {
    F4 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

inline void store4(float* p, F4 v) noexcept RT_NONBLOCKING {
    __builtin_memcpy(p, &v, sizeof v);
}

inline F2 load2(const float* p) noexcept RT_NONBLOCKING {
    F2 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

inline void store2(float* p, F2 v) noexcept RT_NONBLOCKING {
    __builtin_memcpy(p, &v, sizeof v);
}

inline F4 abs4(F4 v) noexcept RT_NONBLOCKING {
    return std::bit_cast<F4>(std::bit_cast<I4>(v) & 0x7fffffff);
}

// Lane-wise max; a NaN in `v` leaves `m` unchanged.
inline F4 max4(F4 m, F4 v) noexcept RT_NONBLOCKING {
    return v > m ? v : m;
}

inline float hmax(F4 v) noexcept RT_NONBLOCKING {
    const float a = v[0] > v[1] ? v[0] : v[1];
    const float b = v[2] > v[3] ? v[2] : v[3];
    return a > b ? a : b;
}

inline float hsum(F4 v) noexcept RT_NONBLOCKING {
    return (v[0] + v[1]) + (v[2] + v[3]);
}

// Rows r0..r3 (four channels, four frames each) become columns (four frames, four
// channels each), in place.
inline void transpose4(F4& r0, F4& r1, F4& r2, F4& r3) noexcept RT_NONBLOCKING {
    const F4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
    const F4 t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
    const F4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
    const F4 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
    r0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    r1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    r2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    r3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

} // namespace lockstep::simd
