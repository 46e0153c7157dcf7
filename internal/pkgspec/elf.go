package pkgspec

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
)

// CheckBinary reports what is wrong with data as the wanlb binary for
// arch: not an ELF executable of arch's machine, byte order and class;
// with static, one with an interpreter (not CGO_ENABLED=0); with softfloat
// on MIPS, one not built with GOMIPS=softfloat. The package tests use it.
func CheckBinary(data []byte, arch Arch, static, softfloat bool) error {
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not ELF: %w", err)
	}
	var errs []error
	if ef.Machine != arch.Machine || ef.ByteOrder != arch.Order || ef.Class != arch.Class || ef.Type != elf.ET_EXEC {
		errs = append(errs, fmt.Errorf("%v %v %v %v, want an executable of %v %v %v",
			ef.Machine, ef.ByteOrder, ef.Class, ef.Type, arch.Machine, arch.Order, arch.Class))
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP && static {
			errs = append(errs, errors.New("has an interpreter: not static (CGO_ENABLED=0)"))
		}
	}
	if ef.Machine == elf.EM_MIPS && softfloat {
		// The 24Kc routers have no FPU: GOMIPS=softfloat, which the
		// linker records as fp_abi 3 (soft) in .MIPS.abiflags.
		s := ef.Section(".MIPS.abiflags")
		if s == nil {
			errs = append(errs, errors.New("no .MIPS.abiflags section"))
		} else if d, err := s.Data(); err != nil || len(d) < 8 || d[7] != 3 {
			errs = append(errs, fmt.Errorf("not built with GOMIPS=softfloat (abiflags %v)", d))
		}
	}
	return errors.Join(errs...)
}
