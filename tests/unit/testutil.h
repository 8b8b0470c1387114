/*
 * testutil.h - what several check programs need: a private temporary directory for a
 * test's files, made and removed with everything in it.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Make a new directory "$TMPDIR/<name>.<pid>.<n>" (mode 0700) into buf; false if none
 * could be made. The pid and a counter keep forked tests and runs apart. */
static inline bool test_tmpdir_make(char *buf, size_t len, const char *name)
{
	static unsigned counter;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	for (int tries = 0; tries < 100; tries++) {
		snprintf(buf, len, "%s/%s.%ld.%u.%ld", base, name, (long)getpid(), counter++,
		         (long)time(NULL));
		if (mkdir(buf, 0700) == 0)
			return true;
	}
	return false;
}

/* Remove the directory made by test_tmpdir_make() and the files in it. */
static inline void test_tmpdir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[1024];

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

#endif
