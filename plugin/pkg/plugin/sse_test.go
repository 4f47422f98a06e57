package plugin

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadSSEFollowsTheEventStreamFormat(t *testing.T) {
	stream := ": comment\r\n" +
		"event: counters\r\n" +
		"data: {\"a\":\r\n" +
		"data:1}\r\n" +
		"id: 7\r\n" +
		"\r\n" +
		"data: plain\n" +
		"\n" +
		"event: ignored-without-data\n" +
		"\n"
	var got []sseEvent
	err := readSSE(strings.NewReader(stream), func(ev sseEvent) error {
		got = append(got, ev)
		return nil
	})
	want := []sseEvent{{name: "counters", data: "{\"a\":\n1}"}, {name: "message", data: "plain"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %#v, want %#v", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("end of stream = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadSSEStopsWhenTheHandlerFails(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := readSSE(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(sseEvent) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err = %v after %d calls", err, calls)
	}
}
