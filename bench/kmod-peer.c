/*
 * kmod-peer: libkmod driven the way modprobe drives it, for the differential tests and the
 * benchmark. One process answers many questions, so a test does not spawn kmod once per alias.
 *
 *   kmod-peer resolve MODDIR [CONFIG...]   stdin: one alias a line; stdout: "ALIAS\tmod mod ..."
 *                                          (kmod_module_new_from_lookup's list, duplicates and
 *                                          order kept, as `modprobe -R` prints it)
 *   kmod-peer depends MODDIR [CONFIG...]   stdin: one alias a line; stdout: "### ALIAS" then what
 *                                          `modprobe --show-depends ALIAS` prints
 *   kmod-peer bench MODDIR ROUNDS [CONFIG...]
 *                                          stdin: the alias corpus; stdout: one JSON line with
 *                                          the index load time, lookups per second, peak RSS
 *
 * With no CONFIG the context reads no configuration (kmod_new with an empty path list), so a
 * result depends on the tree alone; the single CONFIG "default" means modprobe's default
 * directories. libkmod always reads /proc/cmdline and the tree's modules.softdep as well.
 * Build: gcc -O2 -o kmod-peer kmod-peer.c -lkmod   (Debian: libkmod-dev)
 */
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct kmod_ctx *open_ctx(const char *dir, char **configs, int nconfigs)
{
	static const char *none[] = { NULL };
	const char **paths = none;
	struct kmod_ctx *ctx;

	if (nconfigs == 1 && strcmp(configs[0], "default") == 0)
		paths = NULL; /* kmod's default directories, as modprobe uses them */
	else if (nconfigs > 0) {
		paths = calloc(nconfigs + 1, sizeof(char *));
		for (int i = 0; i < nconfigs; i++)
			paths[i] = configs[i];
	}
	ctx = kmod_new(dir, paths);
	if (ctx == NULL) {
		fprintf(stderr, "kmod-peer: kmod_new(%s) failed\n", dir);
		exit(1);
	}
	kmod_load_resources(ctx);
	return ctx;
}

static char **read_lines(size_t *n)
{
	size_t cap = 1024, len = 0;
	char **lines = malloc(cap * sizeof(char *));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t r;

	while ((r = getline(&line, &lcap, stdin)) >= 0) {
		while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r'))
			line[--r] = '\0';
		if (r == 0)
			continue;
		if (len == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(char *));
		}
		lines[len++] = strdup(line);
	}
	free(line);
	*n = len;
	return lines;
}

/* modprobe.c's print_action, verbatim in behaviour */
static void print_action(struct kmod_module *m, bool install, const char *options)
{
	const char *path;

	if (install) {
		printf("install %s %s\n", kmod_module_get_install_commands(m), options);
		return;
	}
	path = kmod_module_get_path(m);
	if (path == NULL) {
		if (kmod_module_get_initstate(m) == KMOD_MODULE_BUILTIN)
			printf("builtin %s\n", kmod_module_get_name(m));
	} else
		printf("insmod %s %s\n", kmod_module_get_path(m), options);
}

static int do_resolve(struct kmod_ctx *ctx)
{
	size_t n;
	char **lines = read_lines(&n);

	for (size_t i = 0; i < n; i++) {
		struct kmod_list *list = NULL, *l;
		const char *sep = "";

		kmod_module_new_from_lookup(ctx, lines[i], &list);
		printf("%s\t", lines[i]);
		kmod_list_foreach(l, list) {
			struct kmod_module *mod = kmod_module_get_module(l);
			printf("%s%s", sep, kmod_module_get_name(mod));
			sep = " ";
			kmod_module_unref(mod);
		}
		putchar('\n');
		kmod_module_unref_list(list);
	}
	return 0;
}

static int do_depends(struct kmod_ctx *ctx)
{
	size_t n;
	char **lines = read_lines(&n);
	int flags = KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY;

	for (size_t i = 0; i < n; i++) {
		struct kmod_list *list = NULL, *l;

		printf("### %s\n", lines[i]);
		kmod_module_new_from_lookup(ctx, lines[i], &list);
		kmod_list_foreach(l, list) {
			struct kmod_module *mod = kmod_module_get_module(l);
			kmod_module_probe_insert_module(mod, flags, NULL, NULL, NULL, print_action);
			kmod_module_unref(mod);
		}
		kmod_module_unref_list(list);
		fflush(stdout);
	}
	return 0;
}

static int do_bench(const char *dir, int rounds, char **configs, int nconfigs)
{
	size_t n, found = 0, lookups = 0;
	char **lines = read_lines(&n);
	double t0 = now_ms();
	struct kmod_ctx *ctx = open_ctx(dir, configs, nconfigs);
	double t1 = now_ms();
	struct rusage ru;

	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			struct kmod_list *list = NULL, *l;

			kmod_module_new_from_lookup(ctx, lines[i], &list);
			kmod_list_foreach(l, list) {
				struct kmod_module *mod = kmod_module_get_module(l);
				found += kmod_module_get_name(mod) != NULL;
				kmod_module_unref(mod);
			}
			kmod_module_unref_list(list);
			lookups++;
		}
	}
	double t2 = now_ms();
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"loadMs\":%.3f,\"lookups\":%zu,\"lookupMs\":%.3f,\"found\":%zu,\"maxRssKb\":%ld}\n",
	       t1 - t0, lookups, t2 - t1, found, ru.ru_maxrss);
	kmod_unref(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "resolve") == 0)
		return do_resolve(open_ctx(argv[2], argv + 3, argc - 3));
	if (argc >= 3 && strcmp(argv[1], "depends") == 0)
		return do_depends(open_ctx(argv[2], argv + 3, argc - 3));
	if (argc >= 4 && strcmp(argv[1], "bench") == 0)
		return do_bench(argv[2], atoi(argv[3]), argv + 4, argc - 4);
	fprintf(stderr, "usage: kmod-peer resolve|depends MODDIR [CONFIG...] | bench MODDIR ROUNDS [CONFIG...]\n");
	return 2;
}
