/*
 * test_procfilter.c - which processes -a samples (tracer/procfilter.c):
 * --comm patterns as substrings or globs, --pid lists, and the two together.
 */
#include <sys/types.h>

#include "check.h"
#include "procfilter.h"

#include "banned.h"

static void test_comm_match(void)
{
	/* No glob character: a substring anywhere in the name. */
	CHECK(procfilter_comm_match("hot", "hotspots"));
	CHECK(procfilter_comm_match("spot", "hotspots"));
	CHECK(!procfilter_comm_match("spotz", "hotspots"));
	CHECK(!procfilter_comm_match("Hot", "hotspots"));
	/* A glob matches the whole name. */
	CHECK(procfilter_comm_match("hot*", "hotspots"));
	CHECK(!procfilter_comm_match("spot*", "hotspots"));
	CHECK(procfilter_comm_match("*spots", "hotspots"));
	CHECK(procfilter_comm_match("python3.1?", "python3.11"));
	CHECK(!procfilter_comm_match("python3.1?", "python3.1"));
	CHECK(procfilter_comm_match("[hs]*", "sharedlib"));
	CHECK(!procfilter_comm_match("[hs]*", "deep"));
	CHECK(!procfilter_comm_match(NULL, "x"));
	CHECK(!procfilter_comm_match("x", NULL));
}

static void test_wanted(void)
{
	const pid_t pids[] = { 12, 34 };
	const char *const comms[] = { "hotspots", "py*" };

	/* Nothing given: every process. */
	CHECK(procfilter_wanted(NULL, 0, NULL, 0, 99, "anything"));
	CHECK(procfilter_wanted(NULL, 0, NULL, 0, 99, NULL));
	/* A list of pids. */
	CHECK(procfilter_wanted(pids, 2, NULL, 0, 12, "x"));
	CHECK(procfilter_wanted(pids, 2, NULL, 0, 34, NULL));
	CHECK(!procfilter_wanted(pids, 2, NULL, 0, 35, "hotspots"));
	/* Patterns. */
	CHECK(procfilter_wanted(NULL, 0, comms, 2, 5, "hotspots"));
	CHECK(procfilter_wanted(NULL, 0, comms, 2, 5, "python3"));
	CHECK(!procfilter_wanted(NULL, 0, comms, 2, 5, "bash"));
	CHECK(!procfilter_wanted(NULL, 0, comms, 2, 5, NULL));
	/* Either one is enough. */
	CHECK(procfilter_wanted(pids, 2, comms, 2, 12, "bash"));
	CHECK(procfilter_wanted(pids, 2, comms, 2, 7, "hotspots"));
	CHECK(!procfilter_wanted(pids, 2, comms, 2, 7, "bash"));
}

int main(void)
{
	test_comm_match();
	test_wanted();
	return check_status();
}
