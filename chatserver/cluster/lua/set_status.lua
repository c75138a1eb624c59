-- Change presence (ARGV[4..5]: id, status); leaving online revokes pending offers.
local id = ARGV[4]
if redis.call('EXISTS', akey(id)) == 0 then return {'unknown_agent', id} end
return {'ok', set_status(id, ARGV[5])}
