#ifndef PAIRRANKER_CZLIB_SHIM_H
#define PAIRRANKER_CZLIB_SHIM_H
#include <zlib.h>
#endif
