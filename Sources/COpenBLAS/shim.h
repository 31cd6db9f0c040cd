#ifndef PAIRRANKER_COPENBLAS_SHIM_H
#define PAIRRANKER_COPENBLAS_SHIM_H
#include <cblas.h>
/* Declared by OpenBLAS's cblas.h; repeated so the shim works with other cblas.h variants. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
#endif
