package logdriver

import "sync"

// queue is non-blocking mode's buffer, Docker's ring: the child's writes
// put messages in and never wait; a message that would take the buffered
// lines past max bytes is dropped (and counted), unless the queue is empty.
// The lines are copied into one arena, so a batch costs two allocations at
// most, whatever its size.
type queue struct {
	mu     sync.Mutex
	ready  sync.Cond
	max    int
	msgs   []Message
	ends   []int // msgs[i].Line is arena[ends[i-1]:ends[i]]
	arena  []byte
	closed bool
	// The batch the driver is sending; recycled at the next take.
	spareMsgs  []Message
	spareEnds  []int
	spareArena []byte
}

func newQueue(max int) *queue {
	q := &queue{max: max}
	q.ready.L = &q.mu
	return q
}

// push copies msgs in, and returns how many it dropped and their bytes.
func (q *queue) push(msgs []Message) (dropped int, droppedBytes uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		if q.closed || len(q.arena)+len(m.Line) > q.max && len(q.msgs) > 0 {
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
	q.mu.Unlock()
}
