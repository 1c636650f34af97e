// Package syncbuf is a buffer a child process writes into while a test
// reads it; shared by the integration tests and the kernel guest program.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// WriteString appends s.
func (s *Buffer) WriteString(str string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(str)
}

// Bytes returns what was written so far. It does not copy: the buffer is
// never read from, so later writes only append (or move to a new array) and
// never change the bytes returned.
func (s *Buffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	return b[:len(b):len(b)]
}

// String returns a copy of what was written so far.
func (s *Buffer) String() string {
	return string(s.Bytes())
}
