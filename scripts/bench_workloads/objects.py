"""An object-heavy simulation: classes, attribute reads and writes, method
calls, a list of live objects that grows and shrinks.

Usage: python3 objects.py [TICKS] (default 2,000 ticks of 20 particles).
"""
import sys


class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def scale(self, k):
        return Vec(self.x * k, self.y * k)


class Particle:
    def __init__(self, ident, pos, vel):
        self.ident = ident
        self.pos = pos
        self.vel = vel
        self.age = 0

    def step(self, gravity):
        self.vel = self.vel.add(gravity)
        self.pos = self.pos.add(self.vel.scale(0.5))
        self.age += 1
        return self.pos.y > -100.0


class World:
    def __init__(self, count):
        self.gravity = Vec(0.0, -0.25)
        self.particles = [Particle(i, Vec(float(i), 0.0), Vec(1.0, 3.0)) for i in range(count)]
        self.next_id = count
        self.retired = 0

    def tick(self):
        alive = []
        for p in self.particles:
            if p.step(self.gravity):
                alive.append(p)
            else:
                self.retired += 1
                alive.append(Particle(self.next_id, Vec(0.0, 0.0), Vec(1.0, 3.0)))
                self.next_id += 1
        self.particles = alive


def main(ticks):
    world = World(20)
    for _ in range(ticks):
        world.tick()
    print(world.retired, world.next_id, round(sum(p.pos.x for p in world.particles), 3))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
