/*
 * replay.c - runs a libFuzzer target over saved inputs without libFuzzer, so that gcc
 * builds (and every `make check`) exercise the corpus and every past crash.
 *
 * Usage: replay PATH...   where each PATH is a file or a directory of files (not
 * recursive; dot files are skipped). Each input is copied into a buffer of exactly its
 * size, as libFuzzer does, so that ASan catches reads past the end. Exits 0 when every
 * input ran, 1 on an unreadable path or an empty run; a crash in the target ends the
 * process the usual way and names nothing, so the last "replay:" line printed under
 * REPLAY_VERBOSE=1 tells which input it was.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;

/* Read and run one file; false if it could not be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return 0;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *n = realloc(buf, ncap);

			if (n == NULL) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return 0;
			}
			buf = n;
			cap = ncap;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(f);
		return 0;
	}
	fclose(f);

	/* Exact-size copy: the growth slack above would hide one-past-the-end reads. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (exact == NULL) {
			free(buf);
			return 0;
		}
		if (len)
			memcpy(exact, buf, len);
		free(buf);
		if (verbose)
			fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every regular file in dir, in name order so runs are reproducible. Returns the
 * count run, or -1 on error. */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	long ran = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = realloc(names, ncap * sizeof(*names));

			if (nn == NULL)
				break;
			names = nn;
			cap = ncap;
		}
		names[n] = malloc(strlen(dir) + strlen(de->d_name) + 2);
		if (names[n] == NULL)
			break;
		sprintf(names[n], "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (!run_file(names[i]))
				ran = -1;
			else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	long total = 0;
	int failed = 0;

	verbose = getenv("REPLAY_VERBOSE") != NULL;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
		} else if (S_ISDIR(st.st_mode)) {
			long r = run_dir(argv[i]);

			if (r < 0)
				failed = 1;
			else
				total += r;
		} else if (run_file(argv[i])) {
			total++;
		} else {
			failed = 1;
		}
	}
	printf("replay: %ld inputs ran\n", total);
	if (total == 0)
		failed = 1;
	return failed;
}
