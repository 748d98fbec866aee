package supervisor

import "testing"

// Benchmarks of the exit queue, each beside a floor benchmark that does the
// same work by hand (see bench_slot_test.go and BENCHMARKS.md).

// BenchmarkExitQueue is one exit through the queue as a loop sees it: the
// child's post, the loop's receive on Ready, and a Drain.
func BenchmarkExitQueue(b *testing.B) {
	b.ReportAllocs()
	q := NewExitQueue()
	s := new(ChildSlot)
	buf := make([]*ChildSlot, 0, 1)
	for b.Loop() {
		q.post(s)
		<-q.Ready()
		buf = q.Drain(buf[:0])
	}
	perfSinkSlots = buf
}

// BenchmarkExitQueueFloor is one exit through a buffered channel: a send
// and a receive.
func BenchmarkExitQueueFloor(b *testing.B) {
	b.ReportAllocs()
	ch := make(chan *ChildSlot, 1)
	s := new(ChildSlot)
	for b.Loop() {
		ch <- s
		<-ch
	}
}

// perfBatch is how many exits the batch benchmarks move per round.
const perfBatch = 64

// BenchmarkExitQueueBatch moves perfBatch exits per round: that many posts,
// one receive on Ready, one Drain. The metric is per exit.
func BenchmarkExitQueueBatch(b *testing.B) {
	b.ReportAllocs()
	q := NewExitQueue()
	slots := make([]*ChildSlot, perfBatch)
	for i := range slots {
		slots[i] = new(ChildSlot)
	}
	buf := make([]*ChildSlot, 0, perfBatch)
	for b.Loop() {
		for _, s := range slots {
			q.post(s)
		}
		<-q.Ready()
		buf = q.Drain(buf[:0])
	}
	perfSinkSlots = buf
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perfBatch), "ns/exit")
}

// BenchmarkExitQueueBatchFloor moves perfBatch exits per round through a
// buffered channel.
func BenchmarkExitQueueBatchFloor(b *testing.B) {
	b.ReportAllocs()
	ch := make(chan *ChildSlot, perfBatch)
	slots := make([]*ChildSlot, perfBatch)
	for i := range slots {
		slots[i] = new(ChildSlot)
	}
	buf := make([]*ChildSlot, 0, perfBatch)
	for b.Loop() {
		for _, s := range slots {
			ch <- s
		}
		buf = buf[:0]
		for range perfBatch {
			buf = append(buf, <-ch)
		}
	}
	perfSinkSlots = buf
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perfBatch), "ns/exit")
}
