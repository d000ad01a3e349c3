// 128-bit integer aliases for exact intermediate products (time module internals).
#pragma once

namespace lockstep {

// __extension__ keeps -Wpedantic quiet: both g++ and clang provide __int128 on 64-bit Linux.
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

} // namespace lockstep
