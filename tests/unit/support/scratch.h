/* Scratch directories of the unit tests. */
#ifndef PS_TEST_SCRATCH_H
#define PS_TEST_SCRATCH_H

/* Removes `dir` and everything below it (`rm -rf`, waited for). */
void test_rm_rf(const char *dir);

#endif
