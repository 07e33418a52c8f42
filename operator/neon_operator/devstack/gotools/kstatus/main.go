// kstatus prints the verdict of sigs.k8s.io/cli-utils/pkg/kstatus/status, the library Flux and
// `kubectl wait`-style tools use, for each object of a JSON array read from standard input:
// a JSON array of {"status": "Current"|"InProgress"|"Failed"|..., "message": ...}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	// The apimachinery decoder keeps integers as int64, as objects read from an apiserver have.
	var objects []interface{}
	if err := utiljson.Unmarshal(input, &objects); err != nil {
		fail(err)
	}
	verdicts := make([]verdict, 0, len(objects))
	for i, object := range objects {
		fields, ok := object.(map[string]interface{})
		if !ok {
			fail(fmt.Errorf("item %d is not an object", i))
		}
		result, err := status.Compute(&unstructured.Unstructured{Object: fields})
		if err != nil {
			fail(fmt.Errorf("item %d: %w", i, err))
		}
		verdicts = append(verdicts, verdict{Status: result.Status.String(), Message: result.Message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdicts); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kstatus:", err)
	os.Exit(1)
}
