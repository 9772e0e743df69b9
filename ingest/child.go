package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/asticode/go-astiav"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// ChildMain runs the media operation requested on stdin and returns the process exit code.
func ChildMain() int {
	// FFmpeg logs through its default callback at error level only: astiav's Go log callback formats
	// into a 1 KiB C buffer and a long line would crash the child.
	astiav.SetLogLevel(astiav.LogLevelError)
	var req childRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "media child: read request:", err)
		return 2
	}
	// Test hooks: "crash", "hang" or "crash-mid" (crash half-way through the transcode), each optionally
	// limited to one operation ("crash:render").
	hook, hookOp, _ := strings.Cut(req.Hook, ":")
	if hookOp != "" && hookOp != req.Op {
		hook = ""
	}
	switch hook {
	case "crash":
		crash()
	case "hang":
		time.Sleep(time.Hour)
	}
	progress := childProgress
	if hook == "crash-mid" {
		progress = func(step string, pct int) {
			childProgress(step, pct)
			if step == "transcode" && pct >= 50 {
				crash()
			}
		}
	}
	var res childResult
	var err error
	switch req.Op {
	case "probe":
		var pr ProbeResult
		pr, err = probeFile(req.Path, req.Options)
		res.Probe = &pr
	case "render":
		if req.Probe == nil {
			err = errors.New("render request without probe result")
			break
		}
		res.Renditions, err = renderFile(req.Path, req.OutDir, req.Options, *req.Probe, progress)
	case "sound":
		if req.Probe == nil {
			err = errors.New("render request without probe result")
			break
		}
		res.Renditions, err = renderSound(req.Path, req.OutDir, req.Options, *req.Probe, progress)
	case "picture":
		if req.Probe == nil || req.Part == nil {
			err = errors.New("picture request without probe result or part")
			break
		}
		err = renderPicture(req.Path, req.Out, req.Options, *req.Probe, *req.Part, progress)
		res.Renditions = []relais.Rendition{{Kind: relais.RenditionTV, Path: req.Out}}
	case "join":
		var rd relais.Rendition
		rd, err = joinTV(req.Sound, req.Parts, req.Plan, req.Out, req.Options)
		res.Renditions = []relais.Rendition{rd}
	default:
		err = fmt.Errorf("unknown media operation %q", req.Op)
	}
	if err != nil {
		res = childResult{}
		// An upload the child refuses is a *relais.Error with code EINVALID: its message is for the
		// teacher, sent in every language since its format does not cross to the parent.
		if relais.ErrorCode(err) == relais.EINVALID {
			res.Refusal, res.RefusalI18n = relais.ErrorMessage(err), locale.Translations(err)
		} else {
			res.Error = err.Error()
			res.OutOfTolerance = errors.Is(err, ErrOutOfTolerance)
		}
	}
	b, _ := json.Marshal(res)
	fmt.Fprintf(os.Stdout, "result %s\n", b)
	return 0
}

// crash dies the way SPEC.md warns about: CloseInput after a failed OpenInput dereferences nil.
func crash() {
	fc := astiav.AllocFormatContext()
	if fc.OpenInput(os.DevNull+"/none", nil, nil) != nil {
		fc.CloseInput()
	}
	os.Exit(3) // not reached
}

func childProgress(step string, percent int) {
	fmt.Fprintf(os.Stdout, "progress %s %d\n", step, percent)
}
