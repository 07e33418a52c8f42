// argocd-health runs an Argo CD resource health check (Lua) the way Argo CD runs one configured
// in argocd-cm (resource.customizations.health.<group>_<kind>): gopher-lua with the standard
// libraries off except package, base and table (Argo CD adds a restricted os, which our checks do
// not use), a 1 s deadline, the object as the global `obj` (integers as numbers, as Argo CD's
// decodeValue does), and the returned table read as {status, message} through gopher-json, with
// a status outside Argo CD's set turned into Unknown. See argo-cd util/lua/lua.go (runLua,
// ExecuteHealthLua, decodeValue).
//
// Usage: argocd-health SCRIPT.lua < objects.json (a JSON array); prints a JSON array of
// {"status": ..., "message": ...}, or exits 1 naming the object whose check raised an error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	luajson "layeh.com/gopher-json"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

var argoStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: argocd-health SCRIPT.lua < objects.json"))
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var objects []interface{}
	if err := utiljson.Unmarshal(input, &objects); err != nil {
		fail(err)
	}
	verdicts := make([]verdict, 0, len(objects))
	for i, object := range objects {
		result, err := health(string(script), object)
		if err != nil {
			fail(fmt.Errorf("object %d: %w", i, err))
		}
		verdicts = append(verdicts, result)
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdicts); err != nil {
		fail(err)
	}
}

func health(script string, object interface{}) (verdict, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return verdict{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, object))
	if err := l.DoString(script); err != nil {
		return verdict{}, err
	}
	returned := l.Get(-1)
	if returned.Type() != lua.LTTable {
		return verdict{}, fmt.Errorf("expect table output from Lua script, not %s", returned.Type())
	}
	encoded, err := luajson.Encode(returned)
	if err != nil {
		return verdict{}, err
	}
	var result verdict
	if err := json.Unmarshal(encoded, &result); err != nil {
		return verdict{}, err
	}
	if !argoStatuses[result.Status] {
		return verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return result, nil
}

func decodeValue(l *lua.LState, value interface{}) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case []interface{}:
		array := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			array.Append(decodeValue(l, item))
		}
		return array
	case map[string]interface{}:
		table := l.CreateTable(0, len(converted))
		for key, item := range converted {
			table.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return table
	}
	return lua.LNil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "argocd-health:", err)
	os.Exit(1)
}
