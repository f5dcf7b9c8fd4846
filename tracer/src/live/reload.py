# Run by hindsight inside the program, in a thread held at a line step
# (docs/spec/cli.md, `reload`). Module-level code only, as exec.py.
# HS_MODULE and HS_FUNCTION are filled in by hindsight. It compiles the
# function's file again and gives the function the code object of its new
# source; it leaves `__hs_report`: status, output, value, error.
import sys as _s
_status = 'failed'
_o = ''
_value = ''
_tb = ''


class _Refused(Exception):
    pass


try:
    _mname = bytes.fromhex('HS_MODULE').decode('utf-8')
    _fname = bytes.fromhex('HS_FUNCTION').decode('utf-8')
    _obj = _s.modules.get(_mname)
    if _obj is None:
        raise _Refused('no module %r is loaded in the program (it is not in sys.modules)' % _mname)
    for _part in _fname.split('.'):
        if not hasattr(_obj, _part):
            raise _Refused('%s has no attribute %r (looking for %s in module %s)'
                           % (getattr(_obj, '__name__', repr(_obj)), _part, _fname, _mname))
        _obj = getattr(_obj, _part)
    _fn = getattr(_obj, '__func__', _obj)
    _n = 0
    while hasattr(_fn, '__wrapped__') and _n < 100:
        _fn = _fn.__wrapped__
        _n += 1
    if not hasattr(_fn, '__code__') or type(getattr(_fn, '__code__')) is not type(compile('', '', 'exec')):
        raise _Refused('%s:%s is a %s, not a function written in Python'
                       % (_mname, _fname, type(_fn).__name__))
    _old = _fn.__code__
    _path = _old.co_filename
    try:
        with open(_path, 'rb') as _fh:
            _text = _fh.read()
    except OSError as _e:
        raise _Refused('cannot read the source of %s:%s again: %s' % (_mname, _fname, _e))
    _status = 'raised'
    _modcode = compile(_text, _path, 'exec', dont_inherit=True)
    _status = 'failed'
    _qual = getattr(_fn, '__qualname__', _fn.__name__)
    _cands = [_modcode]
    for _n in _qual.split('.'):
        if _n == '<locals>':
            continue
        _next = []
        for _c in _cands:
            for _k in _c.co_consts:
                if type(_k) is type(_modcode) and _k.co_name == _n:
                    _next.append(_k)
        _cands = _next
    if not _cands:
        raise _Refused('the new source of %s has no function %s' % (_path, _qual))
    _new = _cands[0]
    for _c in _cands:
        if abs(_c.co_firstlineno - _old.co_firstlineno) < abs(_new.co_firstlineno - _old.co_firstlineno):
            _new = _c
    if _new.co_freevars != _old.co_freevars:
        raise _Refused(
            '%s is a closure whose new code uses other free variables (%s) than the running one '
            '(%s): its cells were made when the enclosing function ran, so the new code cannot '
            'replace the old; restart the program, or run the enclosing function again'
            % (_qual, ', '.join(_new.co_freevars) or 'none', ', '.join(_old.co_freevars) or 'none'))
    try:
        _fn.__code__ = _new
    except ValueError as _e:
        raise _Refused('CPython refused the new code of %s: %s' % (_qual, _e))
    _status = 'ok'
    _value = '%s (%s:%s) now runs the code of %s line %d; calls made from now on run it' % (
        _qual, _mname, _fname, _path, _new.co_firstlineno)
except _Refused as _e:
    _status = 'refused'
    _tb = str(_e)
except BaseException as _e:
    if _status != 'raised':
        _status = 'failed'
    import traceback as _tbm
    _tb = ''.join(_tbm.format_exception(type(_e), _e, _e.__traceback__.tb_next))
_e = _fn = _obj = _old = _new = _c = _k = _cands = _next = _modcode = None
_rep = bytearray()
for _p in (_status, _o, _value, _tb):
    _b = _p.encode('utf-8', 'backslashreplace')
    _rep += b'%d:' % len(_b)
    _rep += _b
__hs_report = bytes(_rep)
