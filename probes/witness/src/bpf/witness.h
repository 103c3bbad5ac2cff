/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Layouts that cross the BPF/Rust boundary. src/layout.rs mirrors every
 * number and struct here; a change on one side must be made on the other.
 */
#ifndef WITNESS_H
#define WITNESS_H

#define WITNESS_COMM_LEN 16

/* Stat groups as /proc/diskstats keeps them (op_stat_group()). */
#define G_READ 0
#define G_WRITE 1
#define G_DISCARD 2
#define G_NR 3

/*
 * Slots of the per-CPU `counters` array. Per-group counters take G_NR
 * consecutive slots: slot = C_X + group.
 */
enum witness_counter {
	C_SUBMIT_BYTES = 0,        /* block_bio_queue: bio bytes */
	C_SUBMIT_BIOS = 3,         /* block_bio_queue: bios with data */
	C_ISSUE_BYTES = 6,         /* block_rq_issue: request bytes (requeued ones again) */
	C_ISSUE_RQS = 9,           /* block_rq_issue: requests with data */
	C_REQUEUE_BYTES = 12,      /* block_rq_requeue */
	C_REQUEUE_RQS = 15,
	C_COMPLETE_BYTES = 18,     /* block_rq_complete, as diskstats adds sectors */
	C_COMPLETE_RQS = 21,       /* requests ended, as diskstats counts ios */
	C_COMPLETE_EMPTY = 24,     /* of C_COMPLETE_RQS: ended without ever carrying data */
	C_FLUSH_SUBMIT = 27,       /* bios that only ask for a cache flush */
	C_FLUSH_ISSUE,             /* REQ_OP_FLUSH requests issued */
	C_FLUSH_COMPLETE,          /* REQ_OP_FLUSH requests completed */
	C_COMPLETE_EVENTS_EMPTY,   /* block_rq_complete events with no bio left */
	C_BACKMERGE,
	C_FRONTMERGE,
	C_RQ_MERGE,
	C_SPLIT,
	C_LOST_SUBMITTERS,         /* submitter map full */
	C_LOST_PAGECACHE,          /* page-cache map full */
	C_LOST_SYSCALLS,           /* syscall map full */
	C_LOST_PIDS,               /* pid-filter map full (a forked child not followed) */
	C_LOST_FLUSHDATA,          /* flush-sequence tracking map full */
	/* One slot per BPF program: events that passed its filter. */
	C_EV_BIO_QUEUE,
	C_EV_RQ_ISSUE,
	C_EV_RQ_REQUEUE,
	C_EV_RQ_COMPLETE,
	C_EV_BIO_BACKMERGE,
	C_EV_BIO_FRONTMERGE,
	C_EV_RQ_MERGE,
	C_EV_SPLIT,
	C_EV_PAGECACHE_ADD,
	C_EV_SYS_EXIT,
	C_EV_PROCESS_FORK,
	C_EV_SYS_ENTER,
	C_NR,
};
struct witness_counters {
	__u64 c[C_NR];
};

/* src/layout.rs repeats these numbers. */
_Static_assert(C_EV_BIO_QUEUE == 40, "layout.rs: C_EV_FIRST");
_Static_assert(C_NR == 52, "layout.rs: C_NR");

/* Who submitted a bio, in which direction (G_READ/G_WRITE/G_DISCARD). */
struct submit_key {
	__u32 tgid;
	__u32 pid;
	char comm[WITNESS_COMM_LEN];
	__u32 group;
	__u32 pad;
};

struct bytes_count {
	__u64 bytes;
	__u64 count;
};

/* A task, for page-cache and syscall counts. */
struct task_key {
	__u32 tgid;
	__u32 pid;
	char comm[WITNESS_COMM_LEN];
};

/* Regular-file pages on the device's filesystem, and metadata pages:
 * the block device's own page cache (buffer heads) and the filesystem's
 * internal inodes (ext4's mballoc buddy cache, inode 1). */
struct pagecache_val {
	__u64 pages;
	__u64 folios;
	__u64 meta_pages;
	__u64 meta_folios;
};

struct syscall_val {
	__u64 read_bytes;
	__u64 write_bytes;
	__u64 read_calls;
	__u64 write_calls;
};

/* Per-request latency: one sample per data-carrying request that ended,
 * in the `latencies` array, LATENCY_MAX of them; `latency_state` counts
 * where the next one goes (past LATENCY_MAX: samples lost) and the
 * requests that ended without their issue having been seen (issued before
 * the witness attached, or the `issued` map full). */
#define LATENCY_MAX 16384

struct latency_sample {
	__u64 issue_ns;  /* block_rq_issue to the request's end */
	__u64 queue_ns;  /* rq->start_time_ns (allocation, as iostat's queue
			  * time starts) to the end; 0 when the kernel did
			  * not stamp it */
	__u32 bytes;     /* the request's size when it was issued */
	__u32 group;     /* G_READ, G_WRITE or G_DISCARD */
	char comm[WITNESS_COMM_LEN]; /* the task that issued it (bitesize's key) */
};

struct latency_state {
	__u64 next;
	__u64 unissued;
};

/* Per-call time of the watched tasks' read-family calls: one sample per
 * call that ended, in the `calls` array, CALL_MAX of them; `call_state`
 * (a struct latency_state) counts where the next one goes and the calls
 * that ended without their entry having been seen. */
#define CALL_MAX 16384

struct call_sample {
	__u64 ns;      /* raw_syscalls:sys_enter to sys_exit */
	__u64 entered; /* bpf_ktime_get_ns() at sys_enter */
	__u32 tid;
	__u32 pad;
	char comm[WITNESS_COMM_LEN]; /* the caller's name at the exit */
};

struct issue_stamp {
	__u64 ns;
	__u32 bytes;
	__u32 group;
	char comm[WITNESS_COMM_LEN];
};

/* One cell of the sampler's count: the task a cpu-clock sample
 * interrupted and the CPU it ran on. Every task is kept, idle (tgid 0)
 * too; SAMPLE_KEYS of them at most, the rest counted lost. */
#define SAMPLE_KEYS 16384

struct sample_key {
	__u32 tgid;
	__u32 cpu;
	char comm[WITNESS_COMM_LEN];
};

#endif /* WITNESS_H */
