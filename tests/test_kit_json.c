/*
 * test_kit_json.c - the provider kit's JSON reader (providers/kit/kit_json.h)
 * against jansson: the same verdict and the same value for hand-picked
 * edge cases and for every documented cloud answer under tests/data, plus
 * the accessors' answers on a known document.  argv[1..]: directories of
 * JSON files to compare.
 */
#include "kit_json.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Both parsers on one text: same verdict, and on success equal values. */
static void same(const char *what, const char *text, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je), *k = NULL;
	bar_kit_jdoc *d = NULL;
	char why[160] = "";
	int rc = bar_kit_jparse(&d, text, len, why, sizeof(why));

	if ((j != NULL) != (rc == 0)) {
		fprintf(stderr, "%s: jansson %s (%s), kit %s (%s)\n", what, j ? "accepts" : "refuses",
		        j ? "" : je.text, rc == 0 ? "accepts" : "refuses", why);
		failures++;
	} else if (j) {
		k = bar_kit_jjson(d, 0);
		if (!json_equal(j, k)) {
			fprintf(stderr, "%s: the values differ\n", what);
			failures++;
		}
	} else {
		CHECK(why[0] != '\0');
	}
	json_decref(j);
	json_decref(k);
	bar_kit_jfree(d);
}

static void same_str(const char *text)
{
	same(text, text, strlen(text));
}

static void cases(void)
{
	static const char *const texts[] = {
		"{}", "[]", " [ 1 , 2 ] ", "{\"a\":1,\"a\":2}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}",
		"{1:2}", "[01]", "[-0]", "[-]", "[1.]", "[.5]", "[1e]", "[1e+]", "[1E-7]",
		"[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
		"[-9223372036854775809]", "[1e400]", "[-1e400]", "[1e-400]", "[true,false,null]",
		"[tru]", "[nul]", "[True]", "\"top\"", "1", "null", "", " ", "[1] x", "[1]\n",
		"[\"\\u00e9\\u4e2d\\ud83d\\ude00\"]", "[\"\\ud83d\"]", "[\"\\ude00\"]",
		"[\"\\ud83dx\"]", "[\"\\u0000\"]", "[\"\\u00\"]", "[\"\\x\"]", "[\"a\\/b\\\\\\\"\"]",
		"[\"\\b\\f\\n\\r\\t\"]", "[\"tab\there\"]", "[\"\xc3\xa9\"]", "[\"\xc3\"]",
		"[\"\xe0\x80\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]",
		"[\"\xf0\x9f\x98\x80\"]", "[\"\xff\"]", "[\"unterminated]", "{\"a\":[{\"b\":[]}]}",
		"[[[[[]]]]]", "{\"\":\"\"}", "[1 2]", "{\"a\":1 \"b\":2}", "\xef\xbb\xbf[]",
		"[\"esc\\u00e9 then plain \xc3\xa9 text\"]", "[1.5e3,-2.25,0.0]", "[\f]",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		same_str(texts[i]);
	same("a NUL inside", "[1]\0", 4);
	same("a NUL in a string", "[\"a\0b\"]", 7);
	{
		/* jansson drops a NUL after a number; the kit refuses any NUL */
		bar_kit_jdoc *d = NULL;
		char why[80];
		CHECK(bar_kit_jparse(&d, "[1\0]", 4, why, sizeof(why)) < 0 && d == NULL);
		CHECK(strstr(why, "NUL") != NULL);
	}

	/* depth: jansson's limit is 2048 */
	for (int depth = 2047; depth <= 2049; depth++) {
		char *t = malloc((size_t)depth * 2 + 1);
		memset(t, '[', (size_t)depth);
		memset(t + depth, ']', (size_t)depth);
		t[depth * 2] = '\0';
		same("deep nesting", t, (size_t)depth * 2);
		free(t);
	}
}

static void accessors(void)
{
	const char *t = "{\"name\":\"vm-1\",\"n\":42,\"r\":2.5,\"ok\":true,\"tags\":{\"a\":\"x\","
	                "\"b\":\"y\"},\"list\":[\"p\",{\"q\":1},[]],\"dup\":1,\"dup\":\"last\"}";
	bar_kit_jdoc *d = NULL;
	int tags, list, v, count = 0;

	CHECK(bar_kit_jparse(&d, t, strlen(t), NULL, 0) == 0);
	if (!d)
		return;
	CHECK(bar_kit_jtype(d, 0) == BAR_KIT_JOBJECT);
	CHECK(bar_kit_jlen(d, 0) == 8);
	CHECK(strcmp(bar_kit_jsv(d, bar_kit_jget(d, 0, "name")), "vm-1") == 0);
	CHECK(bar_kit_jint(d, bar_kit_jget(d, 0, "n")) == 42);
	CHECK(bar_kit_jreal(d, bar_kit_jget(d, 0, "n")) == 42.0);
	CHECK(bar_kit_jreal(d, bar_kit_jget(d, 0, "r")) == 2.5);
	CHECK(bar_kit_jtrue(d, bar_kit_jget(d, 0, "ok")));
	CHECK(!bar_kit_jtrue(d, bar_kit_jget(d, 0, "name")));
	CHECK(strcmp(bar_kit_jsv(d, bar_kit_jget(d, 0, "dup")), "last") == 0);
	CHECK(bar_kit_jget(d, 0, "missing") == -1);
	CHECK(bar_kit_jstr(d, bar_kit_jget(d, 0, "n")) == NULL);
	CHECK(strcmp(bar_kit_jsv(d, -1), "") == 0);
	CHECK(bar_kit_jget(d, bar_kit_jget(d, 0, "name"), "x") == -1);
	tags = bar_kit_jget(d, 0, "tags");
	for (v = bar_kit_jfirst(d, tags); v >= 0; v = bar_kit_jnext(d, tags, v)) {
		const char *k = bar_kit_jkey(d, v);
		CHECK(k && ((!strcmp(k, "a") && !strcmp(bar_kit_jsv(d, v), "x")) ||
		            (!strcmp(k, "b") && !strcmp(bar_kit_jsv(d, v), "y"))));
		count++;
	}
	CHECK(count == 2);
	list = bar_kit_jget(d, 0, "list");
	CHECK(bar_kit_jlen(d, list) == 3);
	CHECK(strcmp(bar_kit_jsv(d, bar_kit_jat(d, list, 0)), "p") == 0);
	CHECK(bar_kit_jkey(d, bar_kit_jat(d, list, 0)) == NULL);
	CHECK(bar_kit_jint(d, bar_kit_jget(d, bar_kit_jat(d, list, 1), "q")) == 1);
	CHECK(bar_kit_jtype(d, bar_kit_jat(d, list, 2)) == BAR_KIT_JARRAY);
	CHECK(bar_kit_jfirst(d, bar_kit_jat(d, list, 2)) == -1);
	CHECK(bar_kit_jat(d, list, 3) == -1);
	count = 0;
	for (v = bar_kit_jfirst(d, list); v >= 0; v = bar_kit_jnext(d, list, v))
		count++;
	CHECK(count == 3);
	CHECK(bar_kit_jobject(d, tags) == tags && bar_kit_jarray(d, tags) == -1);
	CHECK(bar_kit_jarray(d, list) == list && bar_kit_jobject(d, list) == -1);
	CHECK(bar_kit_jobject(d, -1) == -1 && bar_kit_jarray(d, bar_kit_jget(d, 0, "n")) == -1);
	bar_kit_jfree(d);
	bar_kit_jfree(NULL);
}

static void files(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	int n = 0;

	CHECK(dh != NULL);
	while (dh && (e = readdir(dh))) {
		char path[4096], *buf;
		size_t len = strlen(e->d_name);
		FILE *f;
		long size;

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		rewind(f);
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
			same(path, buf, (size_t)size);
			n++;
		}
		free(buf);
		fclose(f);
	}
	if (dh)
		closedir(dh);
	CHECK(n > 0);
}

int main(int argc, char **argv)
{
	cases();
	accessors();
	for (int i = 1; i < argc; i++)
		files(argv[i]);
	if (failures) {
		fprintf(stderr, "test_kit_json: %d failures\n", failures);
		return 1;
	}
	printf("test_kit_json: ok\n");
	return 0;
}
