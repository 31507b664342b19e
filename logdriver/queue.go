package logdriver

import "sync"

// queue is what the streams hand messages to and the sender takes them
// from, so that no stream ever waits inside the driver. Past max bytes,
// non-blocking mode drops a message (and counts it), as Docker's ring
// does, unless the queue is empty; blocking mode makes the next write wait
// for room instead (see waitRoom). The lines are copied into one arena, so
// a batch costs two allocations at most, whatever its size.
type queue struct {
	mu       sync.Mutex
	ready    sync.Cond // messages came in, or the queue closed
	room     sync.Cond // the sender took the messages, or waiting ended
	max      int
	blocking bool
	msgs     []Message
	ends     []int // msgs[i].Line is arena[ends[i-1]:ends[i]]
	arena    []byte
	closed   bool
	// gaveUp is set when Close stops waiting for the driver: from then on
	// nothing waits for room, and what comes in is dropped.
	gaveUp bool
	// The batch the driver is sending; recycled at the next take.
	spareMsgs  []Message
	spareEnds  []int
	spareArena []byte
}

func newQueue(max int, blocking bool) *queue {
	q := &queue{max: max, blocking: blocking}
	q.ready.L = &q.mu
	q.room.L = &q.mu
	return q
}

// waitRoom waits, in blocking mode, until the queue holds less than max
// bytes, or until Close gives up. The caller holds no lock: a driver that
// is slow or down makes the child's writes wait here, and nothing else.
func (q *queue) waitRoom() {
	if !q.blocking {
		return
	}
	q.mu.Lock()
	for len(q.arena) >= q.max && len(q.msgs) > 0 && !q.closed && !q.gaveUp {
		q.room.Wait()
	}
	q.mu.Unlock()
}

// push copies msgs in, and returns how many it dropped and their bytes.
// It never waits: in blocking mode the writer waited for room before.
func (q *queue) push(msgs []Message) (dropped int, droppedBytes uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		full := !q.blocking && len(q.arena)+len(m.Line) > q.max && len(q.msgs) > 0
		if q.closed || q.gaveUp || full {
			dropped++
			droppedBytes += uint64(len(m.Line))
			continue
		}
		q.arena = append(q.arena, m.Line...)
		m.Line = nil
		q.msgs = append(q.msgs, m)
		q.ends = append(q.ends, len(q.arena))
	}
	q.ready.Signal()
	return dropped, droppedBytes
}

// take waits for messages and returns all there are; false once the queue
// is closed and empty. The batch is valid until the next take.
func (q *queue) take() ([]Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.msgs) == 0 && !q.closed {
		q.ready.Wait()
	}
	if len(q.msgs) == 0 {
		return nil, false
	}
	batch, ends, arena := q.msgs, q.ends, q.arena
	q.msgs, q.ends, q.arena = q.spareMsgs[:0], q.spareEnds[:0], q.spareArena[:0]
	q.spareMsgs, q.spareEnds, q.spareArena = batch, ends, arena
	q.room.Broadcast()
	start := 0
	for i := range batch {
		batch[i].Line = arena[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return batch, true
}

// close lets take return what is left, then false.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.ready.Broadcast()
	q.room.Broadcast()
	q.mu.Unlock()
}

// giveUp ends every wait for room, and drops what comes in from now on.
func (q *queue) giveUp() {
	q.mu.Lock()
	q.gaveUp = true
	q.room.Broadcast()
	q.mu.Unlock()
}

// discard empties the queue and returns what it held: the messages Close
// gives up on when the sender is stuck in the driver.
func (q *queue) discard() (n int, bytes uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, bytes = len(q.msgs), uint64(len(q.arena))
	q.msgs, q.ends, q.arena = q.msgs[:0], q.ends[:0], q.arena[:0]
	return n, bytes
}
