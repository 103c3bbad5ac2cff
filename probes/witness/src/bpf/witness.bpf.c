// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tracecheck's reference witness: counts block I/O for ONE device at bio
 * submission, request issue and request completion, per submitting task,
 * page-cache insertions for files on that device, and read/write system
 * call bytes per task. Every counting rule names the kernel behaviour it
 * mirrors; the rules were checked on 6.18 against /proc/diskstats.
 *
 * Only BTF tracepoints (tp_btf) are used: they need no tracefs mount, no
 * kprobes and no fentry, and they hand us the kernel's own struct request
 * and struct bio, so flags the classic tracepoints do not print
 * (RQF_IO_STAT, RQF_FLUSH_SEQ) can be read.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "witness.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EEXIST 17
/* REQ_OP_BITS is 8 in every kernel with enum req_op (a #define, not in BTF). */
#define REQ_OP_MASK_ ((1U << 8) - 1)
#define S_IFMT_ 00170000
#define S_IFBLK_ 0060000
#define S_IFREG_ 0100000

/* Set by user space before load. The device is in the kernel's dev_t
 * encoding (major << 20 | minor), as bd_dev and s_dev hold it. */
const volatile __u32 target_dev = 0;
/* Process filter for syscall counts: comm prefix and/or the `pids` map. */
const volatile bool filter_tasks = false;
const volatile __u32 comm_prefix_len = 0;
const volatile char comm_prefix[WITNESS_COMM_LEN] = {};
/* struct request.rq_flags masks of RQF_IO_STAT and RQF_FLUSH_SEQ, found by
 * user space in the kernel's BTF (request_flags.rs): their bit numbers
 * change between kernels and 6.12 keeps them in an anonymous enum, which
 * CO-RE cannot match by name. 0 would count nothing, so loading without
 * them is a visible failure, never a silent miscount. */
const volatile __u32 rqf_io_stat_mask = 0;
const volatile __u32 rqf_flush_seq_mask = 0;

/* One entry per CPU holding every counter: a program looks it up once. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct witness_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct submit_key);
	__type(value, struct bytes_count);
} submitters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct task_key);
	__type(value, struct pagecache_val);
} pagecache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct task_key);
	__type(value, struct syscall_val);
} syscalls SEC(".maps");

/* Thread-group ids whose syscalls are counted (with filter_tasks). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

/* Requests in a flush sequence whose data part has completed, waiting
 * for their final (0-byte) completion. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} flushdata SEC(".maps");

/* Issue time of each request in flight, keyed by its address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct issue_stamp);
} issued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LATENCY_MAX);
	__type(key, __u32);
	__type(value, struct latency_sample);
} latencies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct latency_state);
} latency_state SEC(".maps");

/* Entry time of each watched thread's read-family call in progress, by
 * thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} call_entered SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CALL_MAX);
	__type(key, __u32);
	__type(value, struct call_sample);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct latency_state);
} call_state SEC(".maps");

/* The sampler's counts (see cpu_sample) and, in slot 0 of
 * `samples_lost`, the samples its full map could not keep. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SAMPLE_KEYS);
	__type(key, struct sample_key);
	__type(value, __u64);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} samples_lost SEC(".maps");

static __always_inline struct witness_counters *counters_now(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

/* Atomic even on a per-CPU slot: block_rq_complete runs in interrupt or
 * softirq context and can interrupt another witness program that is
 * mid-update on the same CPU; a plain += would then lose one update. */
static __always_inline void add(struct witness_counters *c, __u32 slot, __u64 v)
{
	if (slot < C_NR)
		__sync_fetch_and_add(&c->c[slot], v);
}

/* Find a hash entry, creating it zeroed. A full map is counted in
 * `lost_slot`, never silently dropped. */
static __always_inline void *lookup_or_init(struct witness_counters *c, void *map, const void *key,
					    const void *zero, __u32 lost_slot)
{
	void *v = bpf_map_lookup_elem(map, key);
	long err;

	if (v)
		return v;
	err = bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		add(c, lost_slot, 1);
		return NULL;
	}
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		add(c, lost_slot, 1);
	return v;
}

static __always_inline bool disk_is_target(struct gendisk *disk)
{
	if (!disk)
		return false;
	return (((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor)) ==
	       target_dev;
}

/* A request belongs to the target if it was accounted to it (rq->part,
 * which is a partition when the I/O went to one) or if it runs on the
 * target's disk: diskstats adds partition I/O to the whole disk too. */
static __always_inline bool rq_is_target(struct request *rq)
{
	struct block_device *part = BPF_CORE_READ(rq, part);

	if (part && BPF_CORE_READ(part, bd_dev) == target_dev)
		return true;
	return disk_is_target(BPF_CORE_READ(rq, q, disk));
}

static __always_inline bool bio_is_target(struct bio *bio)
{
	struct block_device *bdev = BPF_CORE_READ(bio, bi_bdev);

	if (!bdev)
		return false;
	if (BPF_CORE_READ(bdev, bd_dev) == target_dev)
		return true;
	return disk_is_target(BPF_CORE_READ(bdev, bd_disk));
}

/* op_stat_group(): discards have their own diskstats fields; every other
 * op is a read or a write by its lowest bit (op_is_write()), which puts
 * REQ_OP_WRITE_ZEROES among writes, as diskstats does. */
static __always_inline __u32 op_group(__u32 opf)
{
	__u32 op = opf & REQ_OP_MASK_;

	if (op == REQ_OP_DISCARD)
		return G_DISCARD;
	return (op & 1) ? G_WRITE : G_READ;
}

static __always_inline void task_key_now(struct task_key *k)
{
	__u64 id = bpf_get_current_pid_tgid();

	k->tgid = id >> 32;
	k->pid = (__u32)id;
	bpf_get_current_comm(k->comm, sizeof(k->comm));
}

static __always_inline bool task_wanted(const struct task_key *k)
{
	__u32 tgid = k->tgid;

	if (!filter_tasks)
		return true;
	if (bpf_map_lookup_elem(&pids, &tgid))
		return true;
	if (comm_prefix_len == 0)
		return false;
#pragma unroll
	for (int i = 0; i < WITNESS_COMM_LEN; i++) {
		if (i >= comm_prefix_len)
			return true;
		if (k->comm[i] != comm_prefix[i])
			return false;
	}
	return true;
}

/*
 * Submission. block_bio_queue runs in the submitter's context (the writer
 * on O_DIRECT or fsync, kworker flushers on writeback, jbd2 for the
 * journal), once per bio: a bio split later keeps BIO_TRACE_COMPLETION, so
 * its remainder is not traced again, and bytes here are the bytes the
 * submitter asked for before any merge or split.
 */
SEC("tp_btf/block_bio_queue")
int BPF_PROG(bio_queue, struct bio *bio)
{
	struct witness_counters *c = counters_now();
	static const struct bytes_count zero = {};
	struct submit_key key = {};
	struct task_key tk;
	struct bytes_count *v;
	__u32 bytes, g;

	if (!c || !bio_is_target(bio))
		return 0;
	add(c, C_EV_BIO_QUEUE, 1);
	bytes = BPF_CORE_READ(bio, bi_iter.bi_size);
	/* Empty bios are cache-flush requests (fsync, journal commit with
	 * REQ_PREFLUSH): they move no data, so they are kept out of the bio
	 * counts and the per-submitter table. */
	if (bytes == 0) {
		add(c, C_FLUSH_SUBMIT, 1);
		return 0;
	}
	g = op_group(BPF_CORE_READ(bio, bi_opf));
	add(c, C_SUBMIT_BYTES + g, bytes);
	add(c, C_SUBMIT_BIOS + g, 1);

	task_key_now(&tk);
	key.tgid = tk.tgid;
	key.pid = tk.pid;
	__builtin_memcpy(key.comm, tk.comm, sizeof(key.comm));
	key.group = g;
	v = lookup_or_init(c, &submitters, &key, &zero, C_LOST_SUBMITTERS);
	if (!v)
		return 0;
	__sync_fetch_and_add(&v->bytes, bytes);
	__sync_fetch_and_add(&v->count, 1);
	return 0;
}

/* Merges and splits are why bios != requests: a merged bio joins an
 * existing request, a split bio becomes two or more requests (1 MiB
 * O_DIRECT on loop: 2 requests, max_segments 128 x 4 KiB). */
SEC("tp_btf/block_bio_backmerge")
int BPF_PROG(bio_backmerge, struct bio *bio)
{
	struct witness_counters *c = counters_now();

	if (!c || !bio_is_target(bio))
		return 0;
	add(c, C_EV_BIO_BACKMERGE, 1);
	add(c, C_BACKMERGE, 1);
	return 0;
}

SEC("tp_btf/block_bio_frontmerge")
int BPF_PROG(bio_frontmerge, struct bio *bio)
{
	struct witness_counters *c = counters_now();

	if (!c || !bio_is_target(bio))
		return 0;
	add(c, C_EV_BIO_FRONTMERGE, 1);
	add(c, C_FRONTMERGE, 1);
	return 0;
}

/* Two requests merged into one in the scheduler (attempt_merge()). */
SEC("tp_btf/block_rq_merge")
int BPF_PROG(rq_merge, struct request *rq)
{
	struct witness_counters *c = counters_now();

	if (!c || !rq_is_target(rq))
		return 0;
	add(c, C_EV_RQ_MERGE, 1);
	add(c, C_RQ_MERGE, 1);
	return 0;
}

SEC("tp_btf/block_split")
int BPF_PROG(split, struct bio *bio, unsigned int new_sector)
{
	struct witness_counters *c = counters_now();

	if (!c || !bio_is_target(bio))
		return 0;
	add(c, C_EV_SPLIT, 1);
	add(c, C_SPLIT, 1);
	return 0;
}

/*
 * Issue. block_rq_issue runs in whichever task dispatches (often a
 * kworker/N:1H), so no task is charged here. A requeued request
 * (block_rq_requeue) is issued again: both are counted and user space
 * reports issue minus requeue. Requests with no data are the flush
 * machinery's REQ_OP_FLUSH requests: counted apart, never as I/O.
 */
SEC("tp_btf/block_rq_issue")
int BPF_PROG(rq_issue, struct request *rq)
{
	struct witness_counters *c = counters_now();
	struct issue_stamp stamp = {};
	__u64 rq_key = (__u64)rq;
	__u32 bytes, g;

	if (!c || !rq_is_target(rq))
		return 0;
	add(c, C_EV_RQ_ISSUE, 1);
	bytes = BPF_CORE_READ(rq, __data_len);
	if (bytes == 0) {
		add(c, C_FLUSH_ISSUE, 1);
		return 0;
	}
	g = op_group(BPF_CORE_READ(rq, cmd_flags));
	add(c, C_ISSUE_BYTES + g, bytes);
	add(c, C_ISSUE_RQS + g, 1);
	/* A requeued request is issued again: its latency counts from the
	 * last issue, as the device saw it. */
	stamp.ns = bpf_ktime_get_ns();
	stamp.bytes = bytes;
	stamp.group = g;
	bpf_get_current_comm(stamp.comm, sizeof(stamp.comm));
	bpf_map_update_elem(&issued, &rq_key, &stamp, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_requeue")
int BPF_PROG(rq_requeue, struct request *rq)
{
	struct witness_counters *c = counters_now();
	__u32 bytes, g;

	if (!c || !rq_is_target(rq))
		return 0;
	add(c, C_EV_RQ_REQUEUE, 1);
	bytes = BPF_CORE_READ(rq, __data_len);
	if (bytes == 0)
		return 0;
	g = op_group(BPF_CORE_READ(rq, cmd_flags));
	add(c, C_REQUEUE_BYTES + g, bytes);
	add(c, C_REQUEUE_RQS + g, 1);
	return 0;
}

/*
 * Completion, counted exactly as /proc/diskstats counts (block/blk-mq.c):
 *
 * - Bytes: blk_update_request() fires this tracepoint, then returns early
 *   when rq->bio is NULL, else blk_account_io_completion() adds
 *   nr_bytes >> 9 sectors to the request's stat group if RQF_IO_STAT is
 *   set. So: bytes only with a bio and RQF_IO_STAT, rounded to sectors.
 *   A preflush+FUA write completes twice (data, then 0 bytes and no bio
 *   once the post-flush is done) and flush requests complete with no bio:
 *   neither adds bytes.
 * - Requests: blk_account_io_done() counts one I/O when the request ends
 *   (nr_bytes covers what is left of it) and its flags hold RQF_IO_STAT
 *   without RQF_FLUSH_SEQ. That skips the flush requests and the data step
 *   of a flush sequence (still flagged), and counts the flush-sequence
 *   request once, at its final 0-byte completion, after
 *   blk_flush_restore_request() has cleared the flag. An empty preflush
 *   write (fsync's cache flush) ends the same way and diskstats counts it
 *   as a write I/O with 0 sectors: we count it too, and count it again in
 *   C_COMPLETE_EMPTY so the report can show data-carrying requests apart.
 * - block_io_done is not used: it fires in blk_account_io_done() with 0
 *   bytes (the data is gone by then) and does not exist before 6.5.
 */
/*
 * One latency sample for a data-carrying request at its end (the
 * completion that covers what is left of it, so a partial completion is
 * one request, not two samples): from its last issue, and from
 * rq->start_time_ns, which blk-mq stamps when the request is allocated
 * for a bio (blk_mq_rq_ctx_init, whenever iostats or an elevator need
 * it), on the same monotonic clock as bpf_ktime_get_ns. The device's
 * service time is the first; what `biolatency -Q` and iostat's await
 * call latency, queueing included, is the second.
 */
static __always_inline void latency_sample(struct request *rq, __u64 rq_key)
{
	struct issue_stamp *stamp = bpf_map_lookup_elem(&issued, &rq_key);
	struct latency_sample *slot;
	struct latency_state *st;
	__u32 zero = 0, at;
	__u64 now, start;

	st = bpf_map_lookup_elem(&latency_state, &zero);
	if (!st)
		return;
	if (!stamp) {
		__sync_fetch_and_add(&st->unissued, 1);
		return;
	}
	now = bpf_ktime_get_ns();
	at = (__u32)__sync_fetch_and_add(&st->next, 1);
	if (at < LATENCY_MAX) {
		slot = bpf_map_lookup_elem(&latencies, &at);
		if (slot) {
			start = BPF_CORE_READ(rq, start_time_ns);
			slot->issue_ns = now - stamp->ns;
			slot->queue_ns = (start && start <= now) ? now - start : 0;
			slot->bytes = stamp->bytes;
			slot->group = stamp->group;
			__builtin_memcpy(slot->comm, stamp->comm, sizeof(slot->comm));
		}
	}
	bpf_map_delete_elem(&issued, &rq_key);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	struct witness_counters *c = counters_now();
	static const __u8 one = 1;
	__u32 opf, flags, g, data_len;
	bool has_bio, io_stat, flush_seq;
	__u64 rq_key = (__u64)rq;

	if (!c || !rq_is_target(rq))
		return 0;
	add(c, C_EV_RQ_COMPLETE, 1);
	opf = BPF_CORE_READ(rq, cmd_flags);
	flags = BPF_CORE_READ(rq, rq_flags);
	data_len = BPF_CORE_READ(rq, __data_len);
	has_bio = BPF_CORE_READ(rq, bio) != NULL;
	io_stat = flags & rqf_io_stat_mask;
	flush_seq = flags & rqf_flush_seq_mask;
	g = op_group(opf);

	if ((opf & REQ_OP_MASK_) == REQ_OP_FLUSH)
		add(c, C_FLUSH_COMPLETE, 1);
	if (!has_bio)
		add(c, C_COMPLETE_EVENTS_EMPTY, 1);

	if (has_bio && io_stat)
		add(c, C_COMPLETE_BYTES + g, ((__u64)(nr_bytes >> 9)) << 9);

	/* Remember flush-sequence requests whose data step completed, so the
	 * final 0-byte completion is known to belong to a request with data. */
	if (flush_seq && has_bio && nr_bytes > 0) {
		if (bpf_map_update_elem(&flushdata, &rq_key, &one, BPF_ANY))
			add(c, C_LOST_FLUSHDATA, 1);
	}

	/* A request's end with data: an empty preflush write (fsync's cache
	 * flush) ends with a bio and 0 bytes, and was never stamped. */
	if (nr_bytes > 0 && nr_bytes >= data_len && has_bio)
		latency_sample(rq, rq_key);

	if (nr_bytes >= data_len && io_stat && !flush_seq) {
		add(c, C_COMPLETE_RQS + g, 1);
		if (nr_bytes == 0 && bpf_map_delete_elem(&flushdata, &rq_key) != 0)
			add(c, C_COMPLETE_EMPTY + g, 1);
	}
	return 0;
}

/*
 * Page-cache insertions on the target device. The classic tracepoint keys
 * them by the inode's superblock s_dev; block-device page cache (ext4
 * metadata read through buffer heads, buffered reads of /dev/loopN) belongs
 * to the bdev inode, whose superblock is the bdev pseudo filesystem, so it
 * is matched by i_rdev. Only hashed regular files count as file pages: ext4 also
 * caches metadata in internal inodes (the mballoc buddy cache is inode 1,
 * filled on a fresh filesystem by the first allocating writer), and those
 * go with the block-device pages to the metadata counts. Pages are counted
 * as the folio's size: ext4 inserts large folios on 6.16+.
 */
struct folio___pre_6_3 {
	unsigned char _folio_order;
} __attribute__((preserve_access_index));

/* Before 6.18, folio->flags is a plain unsigned long; 6.18 wraps it in
 * memdesc_flags_t. CO-RE will not relocate a struct-typed field onto an
 * integer one (seen on Debian's 6.1: "failed to resolve CO-RE relocation
 * struct folio.flags"), so the old layout gets its own flavor and the
 * branch for the other layout is pruned by the verifier. */
struct folio___ulong_flags {
	unsigned long flags;
} __attribute__((preserve_access_index));

SEC("tp_btf/mm_filemap_add_to_page_cache")
int BPF_PROG(pagecache_add, struct folio *folio)
{
	struct witness_counters *c = counters_now();
	static const struct pagecache_val zero = {};
	struct inode *host = BPF_CORE_READ(folio, mapping, host);
	struct pagecache_val *v;
	struct task_key k;
	unsigned long fl = 0;
	__u64 pages = 1;
	__u32 sdev, rdev;
	__u16 mode;
	bool bdev, meta;

	if (!c || !host)
		return 0;
	sdev = BPF_CORE_READ(host, i_sb, s_dev);
	rdev = BPF_CORE_READ(host, i_rdev);
	mode = BPF_CORE_READ(host, i_mode);
	bdev = (mode & S_IFMT_) == S_IFBLK_ && rdev == target_dev;
	if (sdev != target_dev && !bdev)
		return 0;
	/* A file page: a regular file the filesystem can look up (hashed).
	 * ext4's buddy cache inode is never hashed, and its i_mode is stale
	 * slab contents (new_inode() leaves it unset), often S_IFREG. */
	meta = (mode & S_IFMT_) != S_IFREG_ || !BPF_CORE_READ(host, i_hash.pprev);
	add(c, C_EV_PAGECACHE_ADD, 1);

	/* folio_nr_pages(): 1 unless PG_head, then 1 << order. The flags word
	 * is read raw because 6.18 wraps it in memdesc_flags_t. */
	if (bpf_core_field_exists(((struct folio___ulong_flags *)folio)->flags))
		fl = BPF_CORE_READ((struct folio___ulong_flags *)folio, flags);
	else
		bpf_core_read(&fl, sizeof(fl), &folio->flags);
	if (fl & (1UL << bpf_core_enum_value(enum pageflags, PG_head))) {
		struct folio___pre_6_3 *old = (void *)folio;
		__u32 order;

		if (bpf_core_field_exists(old->_folio_order))
			order = BPF_CORE_READ(old, _folio_order);
		else
			order = BPF_CORE_READ(folio, _flags_1) & 0xff;
		pages = 1ULL << (order & 31);
	}

	task_key_now(&k);
	v = lookup_or_init(c, &pagecache, &k, &zero, C_LOST_PAGECACHE);
	if (!v)
		return 0;
	if (meta) {
		__sync_fetch_and_add(&v->meta_pages, pages);
		__sync_fetch_and_add(&v->meta_folios, 1);
	} else {
		__sync_fetch_and_add(&v->pages, pages);
		__sync_fetch_and_add(&v->folios, 1);
	}
	return 0;
}

/* The read family, by x86_64 number: read, pread64, readv, preadv,
 * preadv2. 32-bit compat tasks use other numbers and are not counted. */
static __always_inline int read_call(long nr)
{
	switch (nr) {
	case 0:   /* read */
	case 17:  /* pread64 */
	case 19:  /* readv */
	case 295: /* preadv */
	case 327: /* preadv2 */
		return 1;
	case 1:   /* write */
	case 18:  /* pwrite64 */
	case 20:  /* writev */
	case 296: /* pwritev */
	case 328: /* pwritev2 */
		return 0;
	default:
		return -1;
	}
}

/*
 * Read-call latency: a watched thread's read-family call is stamped at its
 * entry (raw_syscalls:sys_enter through BTF, as sys_exit below) and timed
 * at its exit, whatever it returned: what a script that subtracts nsecs at
 * sys_enter_read from nsecs at sys_exit_read measures.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct witness_counters *c = counters_now();
	struct task_key k;
	__u64 now;

	if (!c || read_call(id) != 1)
		return 0;
	task_key_now(&k);
	if (!task_wanted(&k))
		return 0;
	add(c, C_EV_SYS_ENTER, 1);
	now = bpf_ktime_get_ns();
	/* A full map leaves the call unstamped: its exit counts it untimed. */
	bpf_map_update_elem(&call_entered, &k.pid, &now, BPF_ANY);
	return 0;
}

static __always_inline void call_sample(const struct task_key *k)
{
	__u64 *entered = bpf_map_lookup_elem(&call_entered, &k->pid);
	struct latency_state *st;
	struct call_sample *slot;
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, at;

	st = bpf_map_lookup_elem(&call_state, &zero);
	if (!st)
		return;
	if (!entered) {
		__sync_fetch_and_add(&st->unissued, 1);
		return;
	}
	at = (__u32)__sync_fetch_and_add(&st->next, 1);
	if (at < CALL_MAX) {
		slot = bpf_map_lookup_elem(&calls, &at);
		if (slot) {
			slot->ns = now - *entered;
			slot->entered = *entered;
			slot->tid = k->pid;
			__builtin_memcpy(slot->comm, k->comm, sizeof(slot->comm));
		}
	}
	bpf_map_delete_elem(&call_entered, &k->pid);
}

/*
 * Syscall bytes: positive return values of the read and write families
 * (read, pread64, readv, preadv, preadv2 and their write counterparts),
 * taken from raw_syscalls:sys_exit through BTF, since the per-syscall
 * tracepoints need a tracefs mount; and each read-family call's time.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct witness_counters *c = counters_now();
	static const struct syscall_val zero = {};
	struct syscall_val *v;
	struct task_key k;
	int is_read;

	if (!c)
		return 0;
	is_read = read_call(BPF_CORE_READ(regs, orig_ax));
	if (is_read < 0)
		return 0;
	task_key_now(&k);
	if (!task_wanted(&k))
		return 0;
	if (is_read)
		call_sample(&k);
	if (ret <= 0)
		return 0;
	add(c, C_EV_SYS_EXIT, 1);
	v = lookup_or_init(c, &syscalls, &k, &zero, C_LOST_SYSCALLS);
	if (!v)
		return 0;
	if (is_read) {
		__sync_fetch_and_add(&v->read_bytes, ret);
		__sync_fetch_and_add(&v->read_calls, 1);
	} else {
		__sync_fetch_and_add(&v->write_bytes, ret);
		__sync_fetch_and_add(&v->write_calls, 1);
	}
	return 0;
}

/* Children of watched processes are watched too (a workload that forks,
 * or a shell that runs dd). New threads share the tgid already watched. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct witness_counters *c = counters_now();
	static const __u8 one = 1;
	__u32 ptgid, ctgid;

	if (!c || !filter_tasks)
		return 0;
	ptgid = BPF_CORE_READ(parent, tgid);
	if (!bpf_map_lookup_elem(&pids, &ptgid))
		return 0;
	ctgid = BPF_CORE_READ(child, tgid);
	if (ctgid == ptgid)
		return 0;
	add(c, C_EV_PROCESS_FORK, 1);
	if (bpf_map_update_elem(&pids, &ctgid, &one, BPF_ANY))
		add(c, C_LOST_PIDS, 1);
	return 0;
}

/*
 * The sampler: tracecheck's own profiler. User space attaches it, only when
 * a profiler's claim is judged, to a cpu-clock perf event on every CPU at
 * that claim's rate: the event bpftrace's profile:hz:N, bcc's profile -F N
 * and perf record -e cpu-clock use. It runs in the hrtimer interrupt on the
 * sampled CPU, so the current task is the one sampled. Its count of the
 * workload's samples, at that rate, says whether this machine delivers
 * samples at that rate at all: if it does not, a profiler's shortfall there
 * is the machine's, not the profiler's.
 */
SEC("perf_event")
int cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct sample_key k = {};
	static const __u64 zero = 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 slot = 0;
	__u64 *v;
	long err;

	k.tgid = id >> 32;
	k.cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(k.comm, sizeof(k.comm));
	v = bpf_map_lookup_elem(&samples, &k);
	if (!v) {
		err = bpf_map_update_elem(&samples, &k, &zero, BPF_NOEXIST);
		if (!err || err == -EEXIST)
			v = bpf_map_lookup_elem(&samples, &k);
	}
	if (v) {
		__sync_fetch_and_add(v, 1);
		return 0;
	}
	v = bpf_map_lookup_elem(&samples_lost, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
