/*
 * apply_int.h - what the two halves of the apply engine share: the graph
 * and its scheduling (apply.c) and the execution of one node against its
 * provider and the state (apply_node.c).  Nothing else sees it.
 */
#ifndef BAR_APPLY_INT_H
#define BAR_APPLY_INT_H

#include "planner.h"
#include "scheduler.h"

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct node {
	const bar_change *c;
	int op;
	int slot; /* a connection, or the last for logical records */
	char *done_id; /* the system id a successful create/update reported */
} node;

typedef struct engine {
	const bar_plan *plan;
	bar_state *st;
	const bar_apply_opts *o;
	node *nodes;
	size_t n;
	bar_sched *sched;
	bar_conn *conns; /* per slot: as the spec has it */
	bar_conn *live;  /* per slot: as existing resources need it */
	size_t n_slots;  /* connections + 1 */
	bar_apply_summary sum;
} engine;


/* The connection a node uses: existing resources are reached where they
 * were made (the recorded location), new ones where the spec says. */
const bar_conn *apply_node_conn(const engine *e, const node *nd, int for_existing);

/* The slot (connection) of a change; -1 when the plan lacks it. */
int apply_slot_of(engine *e, const bar_change *c);

/* Make one node so at its provider and record the result in state (see
 * apply_node.c).  *o gets what the provider reported; *throttled counts
 * BAR_ERETRY answers.  0, or the error's code. */
int apply_run_node(engine *e, node *nd, bar_obs *o, int *throttled);

#endif
