package plugin

import (
	"bufio"
	"io"
	"strings"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	name string
	data string
}

// maxSSELine bounds one line of the stream; counters events are small.
const maxSSELine = 1 << 20

// readSSE parses an event stream as the HTML standard defines it (fields
// "event" and "data", comments starting with ":", a blank line dispatches) and
// calls fn for each event until the stream ends, fn fails or reading fails.
// The live stream is never meant to end, so its end is io.ErrUnexpectedEOF.
func readSSE(r io.Reader, fn func(sseEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	var (
		name    string
		data    strings.Builder
		hasData bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData {
				ev := sseEvent{name: name, data: data.String()}
				if ev.name == "" {
					ev.name = "message"
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			name, hasData = "", false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}
