package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

func TestSendCommand(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	create := client.Command{Type: "CreateUser", ID: "cmd-1",
		Data:     map[string]string{"userId": "user-1", "email": "a@x", "name": "Ann"},
		Metadata: map[string]string{"requestId": "r-1"}}
	st, err := c.SendCommand(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "cmd-1" || st.CommandType != "CreateUser" || st.Status != client.CommandCompleted || !st.Done() ||
		st.CreatedAt.IsZero() || st.ProcessedAt == nil || st.Error != "" || st.Result == nil {
		t.Fatalf("command: %+v", st)
	}
	res := st.Result
	if res.StreamID != "user-1" || res.Version != 1 || len(res.Events) != 1 || res.Events[0].EventType != "UserCreated" ||
		res.LastPosition() != res.Events[0].Position {
		t.Fatalf("result: %+v", res)
	}
	// The event carries the metadata with the command id.
	p, err := c.ReadStream(ctx, "user-1", client.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	if err := p.Events[0].DecodeMetadata(&meta); err != nil || meta["commandId"] != "cmd-1" || meta["requestId"] != "r-1" {
		t.Fatalf("metadata: %v %v", meta, err)
	}

	// A resend answers the first outcome; the same id for another command
	// is a duplicate_command.
	again, err := c.SendCommand(ctx, create)
	if err != nil || again.Result == nil || again.Result.Events[0].Position != res.Events[0].Position {
		t.Fatalf("resend: %+v %v", again, err)
	}
	other := create
	other.Data = map[string]string{"userId": "user-2", "email": "b@x", "name": "Bob"}
	_, err = c.SendCommand(ctx, other)
	wantCode(t, err, http.StatusConflict, client.CodeDuplicateCommand, client.ErrDuplicateCommand)

	// Domain rule: the user exists.
	_, err = c.SendCommand(ctx, client.Command{Type: "CreateUser",
		Data: map[string]string{"userId": "user-1", "email": "a@x", "name": "Ann"}})
	wantCode(t, err, http.StatusUnprocessableEntity, client.CodeCommandFailed, client.ErrCommandFailed)
	// Expected version.
	_, err = c.SendCommand(ctx, client.Command{Type: "UpdateUser", ExpectedVersion: client.Exact(5),
		Data: map[string]any{"userId": "user-1", "updates": map[string]string{"name": "Anne"}}})
	wantCode(t, err, http.StatusConflict, client.CodeWrongExpectedVersion, client.ErrWrongExpectedVersion)
	if v, ok := client.CurrentVersion(err); !ok || v != 1 {
		t.Fatalf("command conflict version: %d %v", v, ok)
	}
	st, err = c.SendCommand(ctx, client.Command{Type: "UpdateUser", ExpectedVersion: client.Exact(1),
		Data: map[string]any{"userId": "user-1", "updates": map[string]string{"name": "Anne"}}})
	if err != nil || st.Result.Version != 2 {
		t.Fatalf("update: %+v %v", st, err)
	}
	_, err = c.SendCommand(ctx, client.Command{Type: "LaunchRocket", Data: map[string]int{}})
	wantCode(t, err, http.StatusBadRequest, client.CodeUnknownCommand, client.ErrUnknownCommand)

	// The status endpoint.
	got, err := c.CommandStatus(ctx, "cmd-1")
	if err != nil || got.Status != client.CommandCompleted || got.Result == nil || got.Result.StreamID != "user-1" {
		t.Fatalf("status: %+v %v", got, err)
	}
	_, err = c.CommandStatus(ctx, "cmd-unknown")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)

	// WithAutoIDs gives every command an id.
	ca := newClient(t, d, client.WithAutoIDs())
	st, err = ca.SendCommand(ctx, client.Command{Type: "DeleteUser", Data: map[string]string{"userId": "user-1"}})
	if err != nil || len(st.ID) != 36 || st.ID[14] != '7' {
		t.Fatalf("auto id command: %+v %v", st, err)
	}
}

func TestAsyncCommandAndWait(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	cmd := client.Command{Type: "CreateUser", ID: "async-1",
		Data: map[string]string{"userId": "user-9", "email": "n@x", "name": "Nia"}}
	st, err := c.SendCommandAsync(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "async-1" || st.Done() && st.Status != client.CommandCompleted {
		t.Fatalf("accepted: %+v", st)
	}
	done, err := c.WaitCommand(ctx, "async-1")
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != client.CommandCompleted || done.Result == nil || done.Result.StreamID != "user-9" || done.ProcessedAt == nil {
		t.Fatalf("waited: %+v", done)
	}
	// A resend of the finished async command answers its outcome.
	again, err := c.SendCommandAsync(ctx, cmd)
	if err != nil || again.Status != client.CommandCompleted || again.Result == nil {
		t.Fatalf("resend: %+v %v", again, err)
	}

	// A rule against the aggregate's state fails in the background.
	st, err = c.SendCommandAsync(ctx, client.Command{Type: "UpdateUser", ID: "async-2",
		Data: map[string]any{"userId": "ghost", "updates": map[string]int{"x": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	failed, err := c.WaitCommand(ctx, st.ID)
	var cf *client.CommandFailedError
	if !errors.Is(err, client.ErrCommandFailed) || !errors.As(err, &cf) || failed == nil ||
		failed.Status != client.CommandFailed || failed.Error == "" || cf.Command != failed {
		t.Fatalf("failed command: %+v %v", failed, err)
	}
	// A rule on the data alone is refused at once.
	_, err = c.SendCommandAsync(ctx, client.Command{Type: "CreateUser", Data: map[string]string{"userId": "u"}})
	wantCode(t, err, http.StatusUnprocessableEntity, client.CodeCommandFailed, client.ErrCommandFailed)

	_, err = c.WaitCommand(ctx, "never-sent")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	<-short.Done()
	if _, err := c.WaitCommand(short, "async-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCommand with an ended context: %v", err)
	}
}

func TestCommandHandlers(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	def := client.CommandHandlerDefinition{EventType: "TaskOpened", StreamIDFrom: "commandData.taskId",
		Expect: client.ExpectNew, Data: "commandData"}
	h, err := c.PutCommandHandler(ctx, "OpenTask", def)
	if err != nil {
		t.Fatal(err)
	}
	if h.CommandType != "OpenTask" || h.EventType != "TaskOpened" || h.StreamIDFrom != "commandData.taskId" ||
		h.Expect != "new" || h.Data != "commandData" || h.BuiltIn || h.UpdatedAt == nil {
		t.Fatalf("handler: %+v", h)
	}
	if _, err := c.PutCommandHandler(ctx, "OpenTask", def); err != nil { // unchanged: 200
		t.Fatal(err)
	}
	got, err := c.GetCommandHandler(ctx, "OpenTask")
	if err != nil || got.EventType != "TaskOpened" {
		t.Fatalf("get: %+v %v", got, err)
	}
	_, err = c.GetCommandHandler(ctx, "CloseTask")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	_, err = c.PutCommandHandler(ctx, "CreateUser", def)
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)

	list, err := c.ListCommandHandlers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]client.CommandHandler{}
	for _, h := range list {
		byType[h.CommandType] = h
	}
	if cu := byType["CreateUser"]; !cu.BuiltIn || len(cu.Fields) != 3 || cu.UpdatedAt != nil {
		t.Fatalf("built-in: %+v", cu)
	}
	if _, ok := byType["OpenTask"]; !ok || len(list) != 4 {
		t.Fatalf("list: %+v", list)
	}

	st, err := c.SendCommand(ctx, client.Command{Type: "OpenTask", Data: map[string]string{"taskId": "task-1", "title": "t"}})
	if err != nil || st.Result.StreamID != "task-1" || st.Result.Events[0].EventType != "TaskOpened" {
		t.Fatalf("registered command: %+v %v", st, err)
	}
}
