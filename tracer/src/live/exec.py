# Run by hindsight inside the program, in a thread held at a line step
# (docs/spec/cli.md, `exec`). Module-level code only: its names go to a
# dict of its own (its locals), never to the program's globals, and it
# defines no function (one would look its names up in those globals).
# HS_FRAME and HS_CODE are filled in by hindsight. Whatever happens, it
# leaves `__hs_report`: status, output, value, error, each as LEN:BYTES.
import sys as _s
import io as _io
_status = 'failed'
_o = ''
_value = ''
_tb = ''
_saved = _s.stdout
try:
    _src = bytes.fromhex('HS_CODE').decode('utf-8')
    _f = _s._getframe(0)
    while _f is not None and id(_f) != HS_FRAME:
        _f = _f.f_back
    if _f is None:
        raise RuntimeError('the held frame is not on this thread\'s stack')
    _g = _f.f_globals
    # 3.8-3.12: a dict of the frame's locals, written back to them by
    # hindsight afterwards; 3.13: a proxy that writes through (PEP 667).
    # Read once: reading it again would copy the locals over the changes.
    _l = _f.f_locals
    _f = None
    import linecache as _lc
    _lc.cache['<hindsight>'] = (len(_src), None, _src.splitlines(True), '<hindsight>')
    _expr = True
    try:
        _co = compile(_src, '<hindsight>', 'eval')
    except SyntaxError:
        _expr = False
    _out = _io.StringIO()
    _status = 'ok'
    _s.stdout = _out
    try:
        if _expr:
            _v = eval(_co, _g, _l)
            if _v is not None:
                _value = repr(_v)
            _v = None
        else:
            exec(compile(_src, '<hindsight>', 'exec'), _g, _l)
    except BaseException as _e:
        # SystemExit and KeyboardInterrupt too: the program must not end.
        _s.stdout = _saved
        _status = 'raised'
        import traceback as _tbm
        _tb = ''.join(_tbm.format_exception(type(_e), _e, _e.__traceback__.tb_next))
        _e = None
    finally:
        _s.stdout = _saved
        _o = _out.getvalue()
        _lc.cache.pop('<hindsight>', None)
    _g = _l = None
except BaseException as _e:
    _s.stdout = _saved
    _status = 'failed'
    _tb = repr(_e)
    _e = None
if len(_o) > 1000000:
    _o = _o[:1000000] + '\n[hindsight: output cut at 1,000,000 characters]\n'
_rep = bytearray()
for _p in (_status, _o, _value, _tb):
    _b = _p.encode('utf-8', 'backslashreplace')
    _rep += b'%d:' % len(_b)
    _rep += _b
__hs_report = bytes(_rep)
