package ingest

// The few FFmpeg fields go-astiav v0.16.0 does not expose: frame metadata (the ebur128 figures), the
// metadata of an output format context (service name and provider in the MPEG-TS SDT) and of an output
// stream (its language), a stream's disposition (cover art in audio files) and an audio encoder's
// initial padding (where a joined TV file's sound starts).

/*
#cgo pkg-config: libavformat libavcodec libavutil
#include <stdlib.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>

static const char *relais_frame_meta(AVFrame *f, const char *key) {
	AVDictionaryEntry *e = av_dict_get(f->metadata, key, NULL, 0);
	return e ? e->value : NULL;
}
static int relais_fc_set_meta(AVFormatContext *fc, const char *k, const char *v) {
	return av_dict_set(&fc->metadata, k, v, 0);
}
static int relais_stream_set_meta(AVStream *s, const char *k, const char *v) {
	return av_dict_set(&s->metadata, k, v, 0);
}
static int relais_cc_initial_padding(AVCodecContext *cc) {
	return cc->initial_padding;
}
static int relais_stream_is_attached_pic(AVStream *s) {
	return (s->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
}
*/
import "C"

import (
	"strconv"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// astiav's wrappers hold the C pointer as their only field; v0.16.0 is pinned in go.mod.
type cWrapper struct{ c unsafe.Pointer }

func formatContextPtr(fc *astiav.FormatContext) *C.AVFormatContext {
	return (*C.AVFormatContext)((*cWrapper)(unsafe.Pointer(fc)).c)
}

func streamPtr(s *astiav.Stream) *C.AVStream {
	return (*C.AVStream)((*cWrapper)(unsafe.Pointer(s)).c)
}

// frameMetaFloat returns the metadata value key of f as a number.
func frameMetaFloat(f *astiav.Frame, key string) (float64, bool) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	v := C.relais_frame_meta((*C.AVFrame)(f.UnsafePointer()), ck)
	if v == nil {
		return 0, false
	}
	x, err := strconv.ParseFloat(C.GoString(v), 64)
	return x, err == nil
}

// setFormatMetadata sets one metadata entry of an output format context (read by muxers at WriteHeader).
func setFormatMetadata(fc *astiav.FormatContext, key, value string) {
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	C.relais_fc_set_meta(formatContextPtr(fc), ck, cv)
}

// setStreamMetadata sets one metadata entry of an output stream (the MPEG-TS muxer writes "language" as
// the stream's ISO 639 language descriptor).
func setStreamMetadata(s *astiav.Stream, key, value string) {
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	C.relais_stream_set_meta(streamPtr(s), ck, cv)
}

// initialPadding is the number of samples an opened audio encoder puts ahead of the sound (its first
// packet's pts is minus that).
func initialPadding(cc *astiav.CodecContext) int64 {
	return int64(C.relais_cc_initial_padding((*C.AVCodecContext)((*cWrapper)(unsafe.Pointer(cc)).c)))
}

// isAttachedPic reports whether s is cover art rather than moving pictures.
func isAttachedPic(s *astiav.Stream) bool {
	return C.relais_stream_is_attached_pic(streamPtr(s)) != 0
}
